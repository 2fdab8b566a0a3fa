/* The zones as the fs tools see them on the host: each zone's folder opened once (O_PATH), and
 * sandbox paths ("/<zone>/a/b", or "a/b" in the first zone) turned into that folder's fd plus
 * a path inside it. Everything below a zone is reached with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_MAGICLINKS) from the zone's fd, so the kernel, not string checks, keeps the fs
 * tools inside the zones; the strings here only pick the zone and say where things are. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <linux/openat2.h>
#include <sys/types.h>

#include "config.h"
#include "error.h"

/* Paths longer than this (in bytes) are refused before anything looks at them. */
#define ZB_ZONES_MAX_PATH 4096

struct zb_zones;

/* A sandbox path split into its zone and the path inside the zone. */
struct zb_zpath {
	const struct zb_zone *zone; /* borrowed from the config */
	int dirfd;		    /* the zone's folder (O_PATH); borrowed from zb_zones */
	/* Inside the zone: "" for its root, else "a/b", without leading, doubled or trailing
	 * slashes and without "." components. ".." components are kept as written: only the
	 * kernel can tell where they lead (a/link/.. is not a), and RESOLVE_BENEATH refuses any
	 * that climbs out of the zone. */
	char *rel;
	char *display; /* "/<zone>" or "/<zone>/<rel>", for results and messages */
};

/* Open every zone's host folder (O_PATH | O_DIRECTORY | O_CLOEXEC). tmpfs zones have no host
 * folder. A zone whose folder cannot be opened is remembered with its errno and reported
 * when a path in it is used, so one bad zone does not take the others down. Fails only
 * when the kernel has no openat2 (Linux < 5.6). */
struct zb_zones *zb_zones_open(const struct zb_config *cfg, struct zb_error **err);
void zb_zones_free(struct zb_zones *zs);
const struct zb_config *zb_zones_config(const struct zb_zones *zs);
/* The zone's folder fd, or -errno (-ENOENT for tmpfs zones, whose files live only inside the
 * sandbox). */
int zb_zones_fd(const struct zb_zones *zs, size_t index);

/* Split a path given by the client; never touches the filesystem. `tool` ("fs.read") starts
 * the messages. Refused: empty, NUL bytes, more than ZB_ZONES_MAX_PATH bytes, invalid UTF-8,
 * "/" alone, a first component that names no zone, a tmpfs zone, a zone that failed to open. */
int zb_zones_parse(const struct zb_zones *zs, const char *path, size_t len, const char *tool,
		   struct zb_zpath *ret, struct zb_error **err);
void zb_zpath_clear(struct zb_zpath *p);

/* openat2 beneath `dirfd`, with RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | `resolve`, and
 * O_CLOEXEC always. rel "" opens dirfd itself. Returns the fd or -errno; EAGAIN (a rename
 * raced with a ".." walk) is retried a few times first. */
int zb_zones_openat(int dirfd, const char *rel, int flags, mode_t mode, uint64_t resolve);

/* For operations on the last component itself (lstat, create, delete, rename, mkdir): its
 * parent folder, resolved beneath the zone (symlinks inside the zone are followed there),
 * opened O_PATH | O_DIRECTORY, and *ret_name pointing at the last component inside p->rel.
 * The last component is never followed: callers use it with *at() calls and
 * AT_SYMLINK_NOFOLLOW / O_NOFOLLOW. Refuses the zone root and a last component "..". */
int zb_zones_open_parent(const struct zb_zpath *p, const char *tool, const char **ret_name,
			 struct zb_error **err);

/* The `protect:` entry of z that covers rel (rel is it, or is below it), or with `subtree`
 * also one that lies below rel (deleting or moving rel would take it along); NULL when none.
 * Whole components are compared: "a/bc" is not below "a/b". rel must have no ".."
 * components. */
const char *zb_zones_protected(const struct zb_zone *z, const char *rel, bool subtree);

/* Lexical normalisation of a path inside a zone: "." and empty components dropped, ".." takes
 * the previous component away. NULL when ".." would climb above the zone root. */
char *zb_zones_lexical(const char *rel);

/* May the fs tools change p? Checked before anything changes: refuses read-only zones, and
 * protected paths both as written and as the kernel resolves the path right now (a symlink
 * inside the zone may lead into a protected folder). `subtree` for changes that take
 * everything below p along (delete, move). The messages name the zone and its mode. */
int zb_zones_check_write(const struct zb_zones *zs, const struct zb_zpath *p, const char *tool,
			 bool subtree, struct zb_error **err);

/* A tool failure for errno `errnum` met on p, with what to do next. Returns -1. */
int zb_zones_fail(struct zb_error **err, int errnum, const char *tool, const struct zb_zpath *p);

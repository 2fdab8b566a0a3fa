/* The fs.* tools' shared parts. Every fs tool but fs.zones runs as a job: it is set up on the
 * loop thread, its filesystem work runs on the libuv threadpool, and it ends (finish or fail,
 * exactly once) back on the loop thread. fs.c holds the job machinery and the small tools,
 * fs_read.c fs.read, fs_write.c fs.write and fs.edit, fs_walk.c fs.list and fs.search. */
#pragma once

#include <stdatomic.h>
#include <sys/stat.h>
#include <uv.h>

#include "tools.h"
#include "../zones.h"

struct zb_fs_job {
	uv_work_t work;
	struct zb_tool_call *call;
	const struct zb_zones *zones;
	const char *tool; /* "fs.read", for messages */
	/* A private deep copy of the arguments: the worker thread never shares a json_t (and
	 * its reference count) with the loop thread. */
	json_t *args;
	void (*run)(struct zb_fs_job *job);
	atomic_bool cancelled;
	/* fs.read on the loop thread: a memfd with the file as checked, read instead of the
	 * path (see read_snapshot in fs.c); -1 otherwise. */
	int snapshot_fd;
	/* The outcome, set by run() on the worker thread. */
	json_t *result;	   /* structuredContent on success */
	char *result_text; /* or its compact JSON, written by the tool (fs.list) */
	size_t result_len;
	json_t *extra;	      /* content blocks after the text block (images), or NULL */
	struct zb_error *err; /* set on failure */
	json_t *err_data;     /* structured data that goes with the failure, or NULL */
};

/* The tools' bodies, run on a worker thread. */
void zb_fs_read_run(struct zb_fs_job *job);
void zb_fs_write_run(struct zb_fs_job *job);
void zb_fs_edit_run(struct zb_fs_job *job);
void zb_fs_list_run(struct zb_fs_job *job);
void zb_fs_search_run(struct zb_fs_job *job);

/* The string argument `key` as a zone path; NULL-free, length-checked. */
int zb_fs_arg_path(struct zb_fs_job *job, const char *key, struct zb_zpath *ret);
bool zb_fs_arg_bool(const struct zb_fs_job *job, const char *key);
/* An integer argument, or `def` when absent. */
json_int_t zb_fs_arg_int(const struct zb_fs_job *job, const char *key, json_int_t def);

/* "file", "dir", "symlink" or "other". */
const char *zb_fs_type_name(mode_t mode);
/* RFC 3339 in UTC, e.g. "2025-11-25T14:03:07Z"; buf has room for 32 bytes. */
void zb_fs_rfc3339(time_t t, char *buf, size_t size);
/* path, name, type, size, mtime, mode and (symlinks) target of an entry, as fs.list and
 * fs.stat report it. `dirfd`/`name` locate it for readlinkat. */
json_t *zb_fs_entry_json(const char *display, const char *name, const struct stat *st, int dirfd);

struct zb_jbuf;
/* The same entry written as JSON into b. With st NULL only path, name and `type` (what the
 * folder's own listing says, when fs.list was asked for no details). */
void zb_fs_entry_write(struct zb_jbuf *b, const char *display, const char *name,
		       const struct stat *st, const char *type, int dirfd);

/* Read all of fd from offset 0, up to max bytes (more is left unread; *ret_more says so). */
int zb_fs_read_fd(int fd, size_t max, char **ret_buf, size_t *ret_len, bool *ret_more);

/* Create the folders of `rel` that are missing, each resolved beneath the zone again. */
int zb_fs_mkdir_p(struct zb_fs_job *job, const struct zb_zpath *p, const char *rel,
		  bool *ret_created);

/* Replace (or create) `name` in the folder `dirfd` atomically: a new file with a unique name
 * in the same folder, written, then renamed over the old one. `mode` gives the permission
 * bits (and owner) to keep; `noreplace` refuses an existing name (RENAME_NOREPLACE). */
int zb_fs_replace_file(struct zb_fs_job *job, const struct zb_zpath *p, int dirfd, const char *name,
		       const char *data, size_t len, const struct stat *keep, bool noreplace);

/* Remove everything inside the folder `name` of `dirfd` (not the folder itself), never
 * following symlinks. *count grows by what was removed. */
int zb_fs_empty_dir(int dirfd, const char *name, size_t *count, int depth);

/* Store the failure for errno `e` on p in the job. */
void zb_fs_fail_errno(struct zb_fs_job *job, int e, const struct zb_zpath *p);
void zb_fs_fail(struct zb_fs_job *job, int e, const char *fmt, ...) ZB_PRINTF(3, 4);

/* Folders deeper than this are not walked (each level holds an fd); ZB_FS_TOO_DEEP says so. */
#define ZB_FS_MAX_DEPTH 256
#define ZB_FS_TOO_DEEP	(-EOVERFLOW)

/* The permission bits a rewritten or copied entry keeps: rwx (and a folder's sticky bit),
 * never setuid or setgid. */
mode_t zb_fs_safe_mode(mode_t mode);

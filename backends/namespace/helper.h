/* zonebox-sandbox, the namespace backend's helper: internal interfaces between its modules.
 *
 *   helper.c   main: the session helper; read the spec once, then build a sandbox (clone its
 *              init into fresh namespaces) for every `sandbox` request
 *   spec.c     the spec message -> struct sb_spec
 *   mounts.c   the sandbox's file system: tmpfs root, system folders, zones, /proc, /dev
 *   cgroup.c   memory/pids/cpu limits through cgroup v2 or v1
 *   seccomp.c  the system call filter, compiled once to BPF
 *   confine.c  what a command's process does between fork and exec
 *   init.c     pid 1 of the sandbox: starts commands on request, reports their exits
 */
#pragma once

#include <jansson.h>
#include <linux/filter.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../../server/error.h"

enum sb_zone_mode { SB_ZONE_RO, SB_ZONE_RW, SB_ZONE_TMPFS };

struct sb_zone {
	char *name;
	enum sb_zone_mode mode;
	char *host_path; /* absolute; NULL for tmpfs */
	uint64_t size;	 /* tmpfs bytes, 0 = default */
	char **protect;	 /* relative paths, kept read-only */
	size_t n_protect;
};

struct sb_spec {
	uid_t uid; /* the caller's ids, also used inside */
	gid_t gid;
	bool userns;	 /* a user namespace (the caller is not root) */
	bool persistent; /* keep running after the first command */
	bool net_host;
	char *hostname;
	char *rootfs; /* NULL: the host's system folders */
	struct sb_zone *zones;
	size_t n_zones;
	uint64_t memory; /* bytes, 0 = none */
	uint64_t pids;	 /* 0 = none */
	double cpu;	 /* CPUs, 0 = none */
	uint64_t fsize;	 /* RLIMIT_FSIZE bytes, 0 = unlimited */
	uint64_t nofile; /* RLIMIT_NOFILE, 0 = inherit */
};

int sb_spec_parse(const json_t *msg, struct sb_spec *ret, struct zb_error **err);
void sb_spec_clear(struct sb_spec *spec);

/* mounts.c: build the sandbox's root and pivot into it. Runs as pid 1 of the new pid
 * namespace, inside the new mount namespace. */
int sb_mounts_build(const struct sb_spec *spec, struct zb_error **err);
/* The same in two steps, as root (not in a user namespace). sb_mounts_template builds what
 * all sandboxes of the session share and pivots into it; it runs in a mount namespace of its
 * own, which is the template. sb_mounts_from_template runs as a sandbox's pid 1 in the
 * host's mount namespace: it captures the zones, enters a copy of the template
 * (`template_ns`, an fd of it) and mounts the sandbox's own devpts, /dev/shm, /proc, /tmp
 * and zones there. */
int sb_mounts_template(const struct sb_spec *spec, struct zb_error **err);
int sb_mounts_from_template(const struct sb_spec *spec, int template_ns, struct zb_error **err);
/* What the template copied or looked up on the host, as one number: the files copied into
 * /etc, and the folder whose top-level entries it holds (the rootfs or /). A template whose
 * stamp has changed is stale: built again, as each sandbox was before. */
uint64_t sb_mounts_template_stamp(const struct sb_spec *spec);

/* The sandbox's own processes that count against its pids limit on top of the command's:
 * init, and in a persistent session the running command's reaper. A single command's tree
 * gets exactly `pids`. Concurrent commands in a persistent session share the limit, less
 * one per extra reaper and two while the next command's process is prepared (init.c): the
 * limit can only come out stricter than configured, never looser. */
static inline uint64_t sb_pids_overhead(const struct sb_spec *spec)
{
	return spec->persistent ? 2 : 1;
}

/* cgroup.c */
struct sb_limit_state {
	bool enforced;
	char how[160]; /* "cgroup v1", "rlimit", ...; or why not */
};
struct sb_cgroup {
	int version;   /* 0 none, 1, 2 */
	char *dirs[3]; /* v1: memory, pids, cpu (NULL when not used); v2: dirs[0] */
	int oom_fd;    /* memory.events (v2) or memory.oom_control (v1), or -1 */
	struct sb_limit_state memory, pids, cpu;
};
/* Create the sandbox's cgroup(s), named `name` under the helper's own cgroup, and set the
 * limits that can be set; records what is enforced and why not. Never fails: a limit that
 * cannot be set is reported, not claimed. */
void sb_cgroup_prepare(const struct sb_spec *spec, const char *name, struct sb_cgroup *cg);
int sb_cgroup_attach(struct sb_cgroup *cg, pid_t pid, struct zb_error **err);
/* The cgroup's out-of-memory kill count so far (-1 when unknown). */
long sb_cgroup_oom_kills(const struct sb_cgroup *cg);
/* Kill whatever is left and remove the cgroup(s). */
void sb_cgroup_destroy(struct sb_cgroup *cg);
json_t *sb_cgroup_describe(const struct sb_cgroup *cg);
/* Tests only (tests/unit/test_cgroup.c): where /proc is and what goes before the mount
 * points found in its mountinfo, to point cgroup.c at a fake cgroup file system; and
 * forget the hierarchies found, to look again. */
extern const char *sb_cgroup_proc_root, *sb_cgroup_mount_prefix;
void sb_cgroup_forget(void);
/* SIGKILL to the processes listed in dir's cgroup.procs (v1 has no cgroup.kill). */
void sb_cgroup_kill_all(const char *dir);

/* seccomp.c: compile the filter once (session helper); init installs it on itself. */
int sb_seccomp_compile(const struct sb_spec *spec, struct sock_fprog *ret, struct zb_error **err);
int sb_seccomp_install(const struct sock_fprog *prog);

/* confine.c: the command's side, between fork and exec. No malloc, no stdio.
 *
 * A command's process is made ahead of time (init.c, "prepared"): it confines itself as far
 * as it can without knowing the command (sb_exec_prepare), then waits for the request: init
 * fills in the sb_request in a mapping both share, then sends one byte with the command's
 * stdin, stdout and stderr on `chan` (sb_exec_wait). */
struct sb_request {
	const char *path; /* resolved program */
	const char *cwd;
	char **argv;
	char **envp;
	/* Persistent sessions: the command's reaper sends its `exit` to the server itself
	 * (init.c), so it needs the call's id, and to know that the command's process took
	 * the request and exec'd rather than failed on its way (a failure record, for init). */
	long long id;
	volatile int ready;	  /* the process is confined and waits (set by it) */
	volatile int started;	  /* it took the request (set by it) */
	volatile int exec_failed; /* it wrote a failure record (set by it) */
	char data[];		  /* the strings and the arrays above point here */
};
#define SB_REQUEST_MAP_SIZE (4u << 20) /* virtual; holds the largest run message */

struct sb_exec {
	int chan;		      /* the request's byte and fds arrive here */
	const struct sb_request *req; /* shared with init, read once the byte is there */
	const struct sb_spec *spec;
	int cap_last;
	uint64_t nproc; /* RLIMIT_NPROC, 0 = leave */
	int report_fd;	/* close-on-exec pipe for a failure record */
	int sock;	/* persistent: the control socket, kept by the reaper only; else -1 */
};
struct sb_record {
	int kind;  /* SB_REC_* */
	int value; /* errno or wait status */
	char what[48];
};
/* SB_REC_EXIT_SENT: the reaper has sent the command's `exit` to the server itself. */
enum { SB_REC_SETUP_FAILED = 1, SB_REC_STATUS = 2, SB_REC_EXIT_SENT = 3 };
/* Everything that does not depend on the command; on failure a record and _exit. */
void sb_exec_prepare(const struct sb_exec *x);
/* Wait for the request, take its fds and cwd, drop the last capabilities, exec. */
_Noreturn void sb_exec_wait(const struct sb_exec *x);

/* Landlock (confine.c): the kernel's ABI version, or -errno. sb_landlock_scope puts the
 * calling process in a domain scoped to abstract unix sockets and signals: 1 done, 0 not
 * available (ABI < 6), -1 failed; `how` says which, for the ready message. */
int sb_landlock_abi(void);
int sb_landlock_scope(char *how, size_t how_len);
/* What sb_landlock_scope returns and says when it succeeds, without doing it. */
int sb_landlock_scope_expected(char *how, size_t how_len);

/* init.c: pid 1. Never returns. */
_Noreturn void sb_init_run(const struct sb_spec *spec, const struct sb_cgroup *cg, int sock);

/* helper.c */
void sb_send_error(int sock, const char *fmt, ...) ZB_PRINTF(2, 3);
int sb_write_file(const char *path, const char *data, size_t len);

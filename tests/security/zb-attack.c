/* Attacks run inside the sandbox by test_security.c (SECURITY-CASES 12-29). Built static so
 * that it runs from a zone whatever the sandbox's /usr holds. Each subcommand prints one line
 * per attempt: "refused NAME errno" or "ESCAPED NAME", and exits 0. */
#include <errno.h>
#include <fcntl.h>
#include <linux/keyctl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <dirent.h>
#include <stddef.h>
#include <sys/sysmacros.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <termios.h>
#include <unistd.h>

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#ifndef AF_ALG
#define AF_ALG 38
#endif

static void report(const char *name, long r)
{
	if (r < 0)
		printf("refused %s %s\n", name, strerror(errno));
	else
		printf("ESCAPED %s\n", name);
	fflush(stdout);
}

static int syscalls(void)
{
	report("unshare", unshare(CLONE_NEWUSER));
	report("unshare-ns", unshare(CLONE_NEWNS));
	int fd = open("/proc/self/ns/net", O_RDONLY);
	report("setns", setns(fd, 0));
	report("mount", mount("none", "/tmp", "tmpfs", 0, NULL));
	report("remount-rw", mount(NULL, "/usr", NULL, MS_REMOUNT | MS_BIND, NULL));
	report("umount", umount2("/usr", MNT_DETACH));
	report("pivot_root", syscall(SYS_pivot_root, "/tmp", "/tmp"));
	report("chroot", chroot("/tmp"));
	report("keyctl", syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0));
	report("add_key", syscall(SYS_add_key, "user", "zb", "x", 1, KEY_SPEC_SESSION_KEYRING));
	report("request_key", syscall(SYS_request_key, "user", "zb", NULL, 0));
	char attr[128] = {0};
	report("bpf", syscall(SYS_bpf, 0, attr, sizeof(attr)));
	report("perf_event_open", syscall(SYS_perf_event_open, attr, 0, -1, -1, 0));
	report("userfaultfd", syscall(SYS_userfaultfd, 0));
	char params[120] = {0};
	report("io_uring_setup", syscall(SYS_io_uring_setup, 1, params));
	report("init_module", syscall(SYS_init_module, NULL, 0, ""));
	report("finit_module", syscall(SYS_finit_module, 0, "", 0));
	report("delete_module", syscall(SYS_delete_module, "loop", 0));
	report("kexec_load", syscall(SYS_kexec_load, 0, 0, NULL, 0));
	report("clone-newuser", syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, 0));
	report("clone-newns", syscall(SYS_clone, CLONE_NEWNS | SIGCHLD, NULL, NULL, NULL, 0));
	char cl_args[88] = {0};
	report("clone3", syscall(SYS_clone3, cl_args, sizeof(cl_args)));
	report("fsopen", syscall(SYS_fsopen, "tmpfs", 0));
	report("open_tree", syscall(SYS_open_tree, AT_FDCWD, "/usr", 1));
	report("move_mount", syscall(SYS_move_mount, -1, "", -1, "", 0));
	report("mount_setattr", syscall(SYS_mount_setattr, -1, "", 0, NULL, 0));
	report("open_by_handle_at", syscall(SYS_open_by_handle_at, AT_FDCWD, NULL, 0));
	report("mknod", mknod("/tmp/zb-null", S_IFCHR | 0666, makedev(1, 3)));
	return 0;
}

/* The filter's limit (ZB_SECCOMP_LAST_REVIEWED_NR in backends/namespace/seccomp.c): every
 * x86-64 number above it must fail with ENOSYS, also those the running kernel has (on 6.18:
 * statmount 457 to file_setattr 469). All-zero arguments: no call above it does anything
 * with them. */
#define LAST_REVIEWED_NR 456

static int newer(void)
{
	int refused = 0;
	for (long nr = LAST_REVIEWED_NR + 1; nr < 600; nr++) {
		errno = 0;
		long r = syscall(nr, 0, 0, 0, 0, 0, 0);
		if (r < 0 && errno == ENOSYS)
			refused++;
		else
			printf("ESCAPED newer %ld returned %ld %s\n", nr, r, strerror(errno));
	}
	printf("refused newer %d of %d ENOSYS\n", refused, 600 - LAST_REVIEWED_NR - 1);
	/* the highest native number; above it is the x32 bit, which kills */
	long r = syscall(0x3fffffffL, 0, 0, 0, 0, 0, 0);
	if (r < 0 && errno == ENOSYS)
		printf("refused newer-highest ENOSYS\n");
	else
		report("newer-highest", r);
	/* the limit itself is allowed: futex_requeue with no futexes is EINVAL (ENOSYS before
	 * Linux 6.7, where the test does not look) */
	r = syscall(LAST_REVIEWED_NR, 0, 0, 0, 0);
	printf("limit %d %s\n", LAST_REVIEWED_NR, r < 0 ? strerror(errno) : "ok");
	fflush(stdout);
	return 0;
}

/* personality: only PER_LINUX, UNAME26 and the query; the kernel reads an unsigned int */
static int persona(void)
{
	report("personality-read-implies-exec", syscall(SYS_personality, 0x0400000));
	report("personality-addr-no-randomize", syscall(SYS_personality, 0x0040000));
	report("personality-mmap-page-zero", syscall(SYS_personality, 0x0100000));
	report("personality-linux32", syscall(SYS_personality, 0x0008));
	report("personality-high-bits", syscall(SYS_personality, 0x100000000L | 0x0040000));
	long now = syscall(SYS_personality, 0xffffffffL);
	printf("%s personality-query %ld\n", now == 0 ? "allowed" : "failed", now);
	long u = syscall(SYS_personality, 0x0020000);
	long back = syscall(SYS_personality, 0);
	printf("%s personality-uname26\n", u == 0 && back == 0x0020000 ? "allowed" : "failed");
	fflush(stdout);
	return 0;
}

/* NUMA memory policy: refused with EPERM, reading it still works */
static int mempolicy(void)
{
	char *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	report("set_mempolicy", syscall(SYS_set_mempolicy, 0 /* MPOL_DEFAULT */, NULL, 0));
	report("mbind", syscall(SYS_mbind, page, 4096, 0, NULL, 0, 0));
	report("set_mempolicy_home_node", syscall(450, page, 4096, 0, 0));
	int node = 0, status = 0;
	void *pages[1] = {page};
	report("move_pages", syscall(SYS_move_pages, 0, 1, pages, &node, &status, 0));
	unsigned long mask = 1;
	report("migrate_pages", syscall(SYS_migrate_pages, 0, 8 * sizeof(mask), &mask, &mask));
	int mode = -1;
	long r = syscall(SYS_get_mempolicy, &mode, NULL, 0, NULL, 0);
	printf("%s get_mempolicy %s\n", r == 0 || errno == ENOSYS ? "allowed" : "failed",
	       r == 0 ? "ok" : strerror(errno));
	fflush(stdout);
	return 0;
}

static int do_ptrace(void)
{
	pid_t child = fork();
	if (child == 0) {
		pause();
		_exit(0);
	}
	report("ptrace-attach", ptrace(PTRACE_ATTACH, child, NULL, NULL));
	report("ptrace-1", ptrace(PTRACE_ATTACH, 1, NULL, NULL));
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	child = fork();
	if (child == 0) {
		long r = ptrace(PTRACE_TRACEME, 0, NULL, NULL);
		report("ptrace-traceme", r);
		_exit(0);
	}
	waitpid(child, NULL, 0);
	report("process_vm_readv", syscall(SYS_process_vm_readv, 1, NULL, 0, NULL, 0, 0));
	return 0;
}

/* TIOCSTI on our own controlling terminal is what the kernel allows without privileges, so
 * only the filter can refuse it. */
static int tty(void)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0) {
		printf("skip no pty: %s\n", strerror(errno));
		return 0;
	}
	int s = open(ptsname(m), O_RDWR);
	if (s < 0 || ioctl(s, TIOCSCTTY, 0) < 0)
		printf("note could not make the pty our controlling terminal: %s\n",
		       strerror(errno));
	char c = 'x';
	report("TIOCSTI", ioctl(s, TIOCSTI, &c));
	/* high bits set in the command must not slip past the filter */
	report("TIOCSTI-high", syscall(SYS_ioctl, s, 0x100000000ul | TIOCSTI, &c));
	char sub = 2;
	report("TIOCLINUX", ioctl(s, TIOCLINUX, &sub));
	return 0;
}

static int sockets(const char *abstract, const char *path, int port)
{
	report("socket-vsock", socket(AF_VSOCK, SOCK_STREAM, 0));
	report("socket-alg", socket(AF_ALG, SOCK_SEQPACKET, 0));
	report("socket-packet", socket(AF_PACKET, SOCK_RAW, 0));
	report("socket-netlink", socket(AF_NETLINK, SOCK_RAW, 0));
	report("socket-high-bits", syscall(SYS_socket, 0x100000000l | AF_INET, SOCK_STREAM, 0));
	int s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0) {
		report("socket-inet", s);
	} else {
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		report("connect-host-loopback", connect(s, (struct sockaddr *)&a, sizeof(a)));
		struct sockaddr_in d = {.sin_family = AF_INET, .sin_port = htons(53)};
		inet_pton(AF_INET, "1.1.1.1", &d.sin_addr);
		report("connect-internet", connect(s, (struct sockaddr *)&d, sizeof(d)));
	}
	int u = socket(AF_INET, SOCK_DGRAM, 0);
	report("socket-udp", u);
	int x = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	snprintf(un.sun_path + 1, sizeof(un.sun_path) - 1, "%s", abstract);
	report("connect-abstract-unix",
	       connect(x, (struct sockaddr *)&un,
		       (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(abstract))));
	x = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un fsun = {.sun_family = AF_UNIX};
	snprintf(fsun.sun_path, sizeof(fsun.sun_path), "%s", path);
	report("connect-host-unix-path", connect(x, (struct sockaddr *)&fsun, sizeof(fsun)));
	return 0;
}

static int fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.' && atoi(e->d_name) != dirfd(d))
			printf("fd %s\n", e->d_name);
	return 0;
}

/* Every way to leave a setuid or setgid file in `dir` (an rw zone). Each is reported as
 * ESCAPED only when the file really has the bit afterwards. */
static void report_mode(const char *name, long r, const char *file)
{
	struct stat st;
	if (r >= 0 && stat(file, &st) == 0 && (st.st_mode & (S_ISUID | S_ISGID)))
		printf("ESCAPED %s mode %o\n", name, (unsigned)st.st_mode & 07777);
	else if (r >= 0)
		printf("refused %s bits dropped\n", name);
	else
		printf("refused %s %s\n", name, strerror(errno));
	fflush(stdout);
}

static int setuid_files(const char *dir)
{
	char f[300];
	snprintf(f, sizeof(f), "%s/suid", dir);
	int fd = open(f, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	if (fd < 0) {
		printf("skip cannot create %s: %s\n", f, strerror(errno));
		return 1;
	}
	report_mode("chmod-4755", chmod(f, 04755), f);
	report_mode("chmod-2755", chmod(f, 02755), f);
	report_mode("chmod-high-bits", syscall(SYS_chmod, f, 0x100000000l | 04755), f);
	report_mode("fchmod", fchmod(fd, 06755), f);
	report_mode("fchmodat", syscall(SYS_fchmodat, AT_FDCWD, f, 04755), f);
	report_mode("fchmodat2", syscall(452, AT_FDCWD, f, 04755, 0), f);
	close(fd);
	/* ordinary modes still work */
	printf("%s chmod-0700\n", chmod(f, 0700) == 0 ? "allowed" : "failed");
	char g[320];
	snprintf(g, sizeof(g), "%s/open-creat", dir);
	report_mode("open-creat", syscall(SYS_open, g, O_WRONLY | O_CREAT, 04755), g);
	snprintf(g, sizeof(g), "%s/openat-creat", dir);
	report_mode("openat-creat", syscall(SYS_openat, AT_FDCWD, g, O_WRONLY | O_CREAT, 02755), g);
	snprintf(g, sizeof(g), "%s/creat", dir);
	report_mode("creat", syscall(SYS_creat, g, 04755), g);
	snprintf(g, sizeof(g), "%s/mknod", dir);
	report_mode("mknod", syscall(SYS_mknod, g, S_IFREG | 04755, 0), g);
	snprintf(g, sizeof(g), "%s/mknodat", dir);
	report_mode("mknodat", syscall(SYS_mknodat, AT_FDCWD, g, S_IFREG | 06755, 0), g);
	int t = (int)syscall(SYS_openat, AT_FDCWD, dir, O_WRONLY | O_TMPFILE, 04755);
	snprintf(g, sizeof(g), "%s/tmpfile", dir);
	if (t >= 0) {
		char proc[64];
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", t);
		if (linkat(AT_FDCWD, proc, AT_FDCWD, g, AT_SYMLINK_FOLLOW) < 0)
			t = -1;
	}
	report_mode("openat-tmpfile", t, g);
	/* struct open_how: flags, mode, resolve */
	uint64_t how[3] = {O_WRONLY | O_CREAT, 04755, 0};
	snprintf(g, sizeof(g), "%s/openat2", dir);
	long r = syscall(437, AT_FDCWD, g, how, sizeof(how));
	if (r < 0 && errno == ENOSYS)
		printf("refused openat2 ENOSYS\n");
	else
		report_mode("openat2", r, g);
	return 0;
}

static int forkbomb(void)
{
	int n = 0;
	for (;;) {
		pid_t p = fork();
		if (p == 0) {
			pause();
			_exit(0);
		}
		if (p < 0)
			break;
		n++;
		if (n > 100000)
			break;
	}
	printf("forked %d then %s\n", n, strerror(errno));
	return 0;
}

static int memhog(void)
{
	for (size_t total = 0;; total += 16 << 20) {
		char *p = mmap(NULL, 16 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			       -1, 0);
		if (p == MAP_FAILED) {
			printf("mmap failed at %zu MiB\n", total >> 20);
			return 1;
		}
		memset(p, 1, 16 << 20);
		if (total > (8ul << 30))
			return 2;
	}
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	const char *c = argv[1];
	if (strcmp(c, "syscalls") == 0)
		return syscalls();
	if (strcmp(c, "ptrace") == 0)
		return do_ptrace();
	if (strcmp(c, "newer") == 0)
		return newer();
	if (strcmp(c, "personality") == 0)
		return persona();
	if (strcmp(c, "mempolicy") == 0)
		return mempolicy();
	if (strcmp(c, "tty") == 0)
		return tty();
	if (strcmp(c, "sockets") == 0 && argc == 5)
		return sockets(argv[2], argv[3], atoi(argv[4]));
	if (strcmp(c, "setuid") == 0 && argc == 3)
		return setuid_files(argv[2]);
	if (strcmp(c, "fds") == 0)
		return fds();
	if (strcmp(c, "forkbomb") == 0)
		return forkbomb();
	if (strcmp(c, "memhog") == 0)
		return memhog();
	if (strcmp(c, "int80") == 0) {
		long r;
		__asm__ volatile("int $0x80" : "=a"(r) : "a"(20) : "memory");
		printf("ESCAPED int80 returned %ld\n", r);
		return 0;
	}
	if (strcmp(c, "x32") == 0) {
		long r = syscall(0x40000000 | 39);
		printf("ESCAPED x32 returned %ld\n", r);
		return 0;
	}
	if (strcmp(c, "spin") == 0)
		for (;;)
			;
	return 2;
}

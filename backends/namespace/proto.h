/* The control channel between the server (backends/namespace.c) and the sandbox helper
 * (zonebox-sandbox): a SOCK_SEQPACKET socketpair carrying one JSON object per packet, with up
 * to ZB_NS_MAX_FDS file descriptors attached through SCM_RIGHTS.
 *
 * server -> session helper (its socket is the helper's fd 3)
 *   {"type":"spec", ...}                 first packet: what sandboxes to build (see spec.c)
 *   {"type":"sandbox"}  + 1 fd: build a sandbox whose init talks on this socket
 * server -> sandbox init
 *   {"type":"run","id":N,"argv":[..],"env":[..],"cwd":".."}  + 3 fds: stdin, stdout, stderr,
 *                                        or 2: stdout, stderr (stdin is /dev/null)
 *   {"type":"kill","id":N}
 * sandbox init (or the helper, for a sandbox it could not build) -> server
 *   {"type":"ready","limits":{..},"isolation":{..}}   or   {"type":"error","message":".."}
 *   {"type":"exit","id":N,"exit_code":C,"signal":S,"oom_killed":B[,"error":".."]}
 */
#pragma once

#include <jansson.h>
#include <stddef.h>

#define ZB_NS_MAX_FDS	 3
#define ZB_NS_MAX_PACKET (256 * 1024)
#define ZB_NS_CONTROL_FD 3 /* where the helper finds its end of the socketpair */

/* Send `msg` (borrowed) with `n_fds` descriptors. Returns 0, or -errno. */
int zb_ns_send(int sock, const json_t *msg, const int *fds, size_t n_fds);
/* The same with the packet's text already made (len bytes of JSON). */
int zb_ns_send_raw(int sock, const char *text, size_t len, const int *fds, size_t n_fds);
/* Receive one packet. 0 and *ret_msg (owned) on success; -EPIPE on end of file (the peer is
 * gone); -EAGAIN when nothing is there (non-blocking socket); -EBADMSG for a packet that is
 * not a JSON object or is truncated. Descriptors that came with it land in fds[], their count
 * in *ret_n_fds; extra ones beyond max_fds are closed. */
int zb_ns_recv(int sock, json_t **ret_msg, int *fds, size_t max_fds, size_t *ret_n_fds);

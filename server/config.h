/* The configuration file (YAML, DESIGN.md "Configuration"), parsed with libyaml into a
 * plain struct. Everything the rest of the server needs is resolved here: host paths are
 * absolute, sizes are bytes, durations are milliseconds. */
#pragma once

#include "error.h"

enum zb_zone_mode { ZB_ZONE_RO, ZB_ZONE_RW, ZB_ZONE_TMPFS };
enum zb_network_mode { ZB_NET_NONE, ZB_NET_HOST, ZB_NET_ALLOW };
enum zb_session_mode { ZB_SESSION_PERSISTENT, ZB_SESSION_PER_CALL };
enum zb_decision { ZB_DECISION_ALLOW, ZB_DECISION_ASK, ZB_DECISION_DENY };

struct zb_zone {
	char *name; /* mounted at /<name> in the sandbox */
	enum zb_zone_mode mode;
	char *host_path; /* absolute; NULL for tmpfs */
	uint64_t size;	 /* tmpfs only, bytes; 0 = backend default */
	char **protect;	 /* paths relative to the zone, kept read-only */
	size_t n_protect;
	/* Where the zone and its hostPath are written in cfg->path (1-based), so that checks made
	 * after loading can point at them; 0 when the zone came from a --zone flag. */
	int line, column;
	int path_line, path_column;
};

struct zb_limits {
	uint64_t timeout_ms;
	uint64_t memory_bytes;
	uint64_t pids;
	double cpu;	       /* CPUs, 0 = unlimited */
	uint64_t output_bytes; /* per stream */
};

struct zb_rule {
	enum zb_decision decision;
	char **patterns; /* e.g. "git diff *" */
	size_t n_patterns;
	char **match; /* examples that must match, checked at load */
	size_t n_match;
	char **not_match; /* examples that must not match */
	size_t n_not_match;
	int line, column;
};

struct zb_tool_rule {
	char *tool; /* "fs.write" */
	enum zb_decision decision;
};

enum zb_approver_kind { ZB_APPROVER_COMMAND, ZB_APPROVER_ELICITATION };
struct zb_approver {
	enum zb_approver_kind kind;
	char **argv; /* NULL-terminated, command only */
};

struct zb_config {
	char *path; /* the file it came from, or "<default>" */
	char *dir;  /* absolute folder relative paths are resolved against */

	struct {
		char *backend; /* "namespace" | "docker" | "wasm" | "null" */
		char *image;   /* docker */
		char *runtime; /* wasm: "wasmtime" | "node", or NULL to let the backend pick */
		char *rootfs;  /* namespace: absolute, or NULL for the host's system folders */
		int rootfs_line, rootfs_column; /* where rootfs is written, for validate */
		enum zb_network_mode network;
		char **allow_domains; /* network: {allow: [...]} */
		size_t n_allow_domains;
		enum zb_session_mode session;
		struct zb_limits limits;
		/* "NAME" (passed through from the server's environment) or "NAME=value" */
		char **env;
		size_t n_env;
		struct zb_zone *zones;
		size_t n_zones;
	} sandbox;

	struct {
		enum zb_decision default_decision;
		struct zb_rule *rules;
		size_t n_rules;
		struct zb_tool_rule *tools;
		size_t n_tools;
		struct zb_approver *approvers;
		size_t n_approvers;
		uint64_t timeout_ms;
		char *learned; /* absolute path or NULL */
		/* The rules of the learned file (approval.learned, {approval: {rules: [...]}}),
		 * loaded with the config; their line/column are in that file. */
		struct zb_rule *learned_rules;
		size_t n_learned_rules;
	} approval;

	struct {
		bool underscore; /* tools.names: underscore */
		bool show_host_paths;
	} tools;

	struct {
		char *path; /* absolute or NULL */
	} audit;

	struct {
		uint64_t max_message_bytes;
		uint64_t tools_page_size;
	} server;
};

/* Load a config file. On failure *err holds "file:line:column: what is wrong" (kind
 * ZB_ERR_CONFIG) and NULL is returned. */
struct zb_config *zb_config_load_file(const char *path, struct zb_error **err);
/* Parse YAML text; `name` is used in messages, `dir` resolves relative hostPaths. */
struct zb_config *zb_config_load_string(const char *yaml, size_t len, const char *name,
					const char *dir, struct zb_error **err);
/* The embedded default: the current directory as zone `work` (rw), a tmpfs `scratch`, no
 * network, a built-in read-only command allowlist. */
struct zb_config *zb_config_default(struct zb_error **err);

/* Add a zone from a --zone NAME=PATH[:ro|:rw] flag (PATH relative to the current directory). */
int zb_config_add_zone_flag(struct zb_config *cfg, const char *spec, struct zb_error **err);
/* Checks that hold for the final config (after flags): zone names unique and valid, host
 * paths (and sandbox.rootfs) exist and are folders, at least one zone, no zone or rootfs
 * inside a read-write zone. Host paths and rootfs are made canonical here. */
int zb_config_validate(struct zb_config *cfg, struct zb_error **err);

const struct zb_zone *zb_config_find_zone(const struct zb_config *cfg, const char *name);
const char *zb_zone_mode_name(enum zb_zone_mode m);
const char *zb_decision_name(enum zb_decision d);

void zb_config_free(struct zb_config *cfg);
static inline void zb_config_freep(struct zb_config **c)
{
	zb_config_free(*c);
}
#define _cleanup_config_ _cleanup_(zb_config_freep)

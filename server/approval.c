/* The approval layer: is this call allowed to run, and if the rules cannot say, who is
 * asked. The sandbox enforces; this layer answers one question, and its one duty is never to
 * approve something the human did not see.
 *
 * How a shell.run call is judged:
 *  1. A `command` string is split the way sh would split it (shsplit.c) into simple
 *     commands; `argv` is one simple command as it is. Call `env` variables count as
 *     assignments in front of every command (FOO=1 cmd): they can change what runs.
 *  2. Each simple command becomes a "unit": harmless leading wrappers (timeout, nice, nohup,
 *     env without assignments or -S, command, exec, stdbuf, setsid, xargs) are unwrapped so
 *     that the command they run is what is judged; the command a re-executor carries (find
 *     -exec …, xargs …) is judged as its own unit; the code an interpreter is handed (sh -c,
 *     $(…), subshells) is split too, but only to find denied commands in it.
 *  3. Each unit is matched against the rules (the config's, the learned file's, those
 *     learned in this session). A pattern is itself written like a sh command: its words
 *     are a prefix of the argv, `*` is exactly one word, `**` any number, a final `$` anchors
 *     it to the whole argv, and a first word matches the command by name or by the file it
 *     resolves to. Matching is three-valued: yes, no, or maybe (a word whose value is only
 *     known at run time, $X or a glob, stands where the pattern needs something specific).
 *     A deny or ask that maybe matches makes the unit "ask"; an allow must match for sure.
 *  4. deny beats ask beats allow, across units; what nothing matches takes approval.default.
 *
 * Security decisions, each against a named attack (SECURITY-CASES 30):
 *  - `ls; rm -rf /work`, `ls && curl x`, `ls | sh`, "ls\nrm x": every simple command is a
 *    unit of its own; a rule for `ls` says nothing about the others.
 *  - `$(…)`, backticks, subshells, compound commands, functions, eval/./source/trap,
 *    export/set/alias, bash-only syntax, here-documents that expand: not understood, so
 *    "hidden code": never allowed by a rule for anything else. They pass only where nothing
 *    could be refused anyway (approval.default allow and no deny or ask rule at all), or
 *    where a rule spells out that exact command text.
 *  - Interpreters (sh, bash, python, perl, node, awk programs that call system() or write,
 *    sed scripts, sudo, ssh, busybox, …) get their arguments marked "sensitive": a wildcard
 *    or the open end of a prefix never stands for a sensitive word, only the same word
 *    written in the rule does. The same marks the options of ordinary commands that write
 *    files or run programs (find -delete/-fprint, sort -o, tree -o, uniq's output operand,
 *    rg --pre, git -c/--output/--ext-diff/--exec-path, tar --to-command, …), so the default
 *    allowlist's `sort *` does not allow `sort -o /work/x`.
 *  - `env rm`, `timeout 5 rm`: unwrapped, judged as rm. `env VAR=… cmd`, `FOO=1 cmd` and
 *    call env: the assignments are sensitive words of the unit, so only a rule that spells
 *    them out allows the command (LD_PRELOAD=…, PATH=…, BASH_ENV=… would change what runs).
 *  - `/work/bin/ls` is not `ls`: only names in the sandbox's system folders (/usr, /bin,
 *    /sbin) resolve to the same program; anything in a zone, /tmp, or a relative path is
 *    its own program. Multi-call binaries stay apart because the identity is the resolved
 *    folder plus the name (busybox's /bin/ls and /bin/rm are one file, two programs).
 *  - An output redirection into a file is a write: judged by approval.tools fs.write if set,
 *    else by approval.default (so `ls > /work/x` is not allowed by the rule for `ls`).
 *    /dev/null, /dev/stdout, /dev/stderr and fd duplications are not writes.
 *  - Globs and variables change argv: a word that expands matches a literal pattern word
 *    only as "maybe". Past the end of an unanchored pattern it is harmless (the rule
 *    already allows any further arguments), except for commands with sensitive options,
 *    where `sort $OPTS` or a file named `-ofoo` picked up by `*` could become one.
 *  - A NUL byte in a command or argv is refused: sh would see only the part before it.
 *
 * Resolution of command names uses the sandbox's PATH (sandbox.env may set it) looked up on
 * the host file system under sandbox.rootfs (the namespace backend shows the host's system
 * folders); for the docker and wasm backends this is an approximation, and a name that
 * resolves nowhere is matched by its spelling only.
 *
 * "ask" goes to the approvers (approver.c): a question waits at most approval.timeout, with
 * progress notifications every few seconds to keep the client's request alive, and a
 * cancelled call withdraws it. An "always" answer becomes an allow rule anchored to the exact
 * argv the human saw (`rm -rf build $`: extra arguments ask again), kept for the session and
 * saved to approval.learned (written to a temporary file and renamed over it). */
#include "approval.h"

#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "approver.h"
#include "log.h"
#include "mcp.h"
#include "rpc.h"
#include "shsplit.h"
#include "tools/tools.h"

/* shell.c's default PATH of the sandbox. */
#define SANDBOX_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
/* Bounds that keep judging linear-ish on hostile input; past them, a human decides. */
#define MAX_UNITS	  1024
#define MAX_UNIT_WORDS	  4096
#define MAX_COMMAND_BYTES (1u << 20)
#define MAX_DEPTH	  4
#define KEEPALIVE_MS	  5000

/* ================================================================ program names */

struct jenv {
	const struct zb_config *cfg;
	char *path; /* the sandbox's PATH */
	const char *root;
	bool restricted; /* some deny or ask pattern exists */
	bool exact_allow;
	bool no_tool_rules; /* checking a rule's examples: the rule alone */
};

static bool is_system_path(const char *p)
{
	if (p[0] != '/')
		return false;
	static const char *const roots[] = {"usr", "bin", "sbin"};
	bool root_ok = false;
	for (size_t i = 0; i < ZB_ARRAY_SIZE(roots); i++) {
		size_t n = strlen(roots[i]);
		if (strncmp(p + 1, roots[i], n) == 0 && (p[n + 1] == '/' || p[n + 1] == '\0'))
			root_ok = true;
	}
	if (!root_ok)
		return false;
	/* Only plain spellings: "..", "." or "//" could step out of the system folders. */
	for (const char *c = p; *c;) {
		c++;
		const char *e = strchrnul(c, '/');
		size_t n = (size_t)(e - c);
		if ((n == 0 && *e) || (n == 1 && c[0] == '.') ||
		    (n == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		c = e;
	}
	return true;
}

/* The program a system path names: its folder with symlinks resolved, plus its own name
 * (not its target: a multi-call binary is a different program under each name). */
static char *resolve(const struct jenv *e, const char *path)
{
	_cleanup_free_ char *host = zb_xasprintf("%s%s", e->root, path);
	struct stat st;
	if (stat(host, &st) < 0 || !S_ISREG(st.st_mode) || !(st.st_mode & 0111))
		return NULL;
	_cleanup_free_ char *dcopy = zb_xstrdup(host), *bcopy = zb_xstrdup(host);
	char real[PATH_MAX];
	if (!realpath(dirname(dcopy), real))
		return NULL;
	size_t rl = strlen(e->root);
	if (strncmp(real, e->root, rl) != 0)
		return NULL;
	const char *inside = real + rl;
	if (!is_system_path(inside))
		return NULL;
	return zb_xasprintf("%s/%s", inside, basename(bcopy));
}

static char *program_identity(const struct jenv *e, const char *name)
{
	if (!*name)
		return NULL;
	if (strchr(name, '/'))
		return is_system_path(name) ? resolve(e, name) : NULL;
	const char *p = e->path;
	while (*p) {
		const char *end = strchrnul(p, ':');
		_cleanup_free_ char *dir = zb_xstrndup(p, (size_t)(end - p));
		/* A folder outside the system ones (a zone, /tmp, a relative one) may hold a
		 * program of this name that only exists in the sandbox: no identity. */
		if (!is_system_path(dir))
			return NULL;
		_cleanup_free_ char *cand = zb_xasprintf("%s/%s", dir, name);
		char *id = resolve(e, cand);
		if (id)
			return id;
		p = *end ? end + 1 : end;
	}
	return NULL;
}

/* ================================================================ patterns and rules */

enum pkind { P_LIT, P_RAW, P_STAR, P_GLOBSTAR };

struct pword {
	enum pkind kind;
	char *text; /* P_LIT: the value; P_RAW: as written */
};

struct pattern {
	char *source;
	bool exact; /* not one simple command: matches exactly this command text */
	struct pword *w;
	size_t n;
	bool anchored;
	char *ident0; /* the first word as a program, or NULL */
};

struct crule {
	enum zb_decision decision;
	struct pattern *p;
	size_t n;
	char *where; /* "approval.rules[2] (zonebox.yaml:12:7)" */
};

struct ruleset {
	struct crule *r;
	size_t n;
};

static char *trim(const char *s)
{
	while (*s == ' ' || *s == '\t' || *s == '\n')
		s++;
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n'))
		n--;
	return zb_xstrndup(s, n);
}

static void pattern_clear(struct pattern *p)
{
	free(p->source);
	for (size_t i = 0; i < p->n; i++)
		free(p->w[i].text);
	free(p->w);
	free(p->ident0);
}

static int compile_pattern(const struct jenv *e, const char *text, struct pattern *p,
			   const char **ret_why)
{
	*p = (struct pattern){.source = trim(text)};
	if (!*p->source) {
		*ret_why = "an empty pattern matches nothing; write at least a command name";
		return -1;
	}
	struct zb_sh_script sc;
	zb_sh_split(p->source, strlen(p->source), &sc);
	const struct zb_sh_command *c = sc.n_cmds == 1 ? &sc.cmds[0] : NULL;
	if (sc.n_problems > 0 || !c || c->n_redirs > 0 || c->negated || strcmp(c->sep, "") != 0) {
		p->exact = true;
		zb_sh_script_clear(&sc);
		return 0;
	}
	size_t n = c->n_assigns + c->n_words;
	p->w = zb_xcalloc(n + 1, sizeof(*p->w));
	for (size_t i = 0; i < n; i++) {
		const struct zb_sh_word *w =
			i < c->n_assigns ? &c->assigns[i] : &c->words[i - c->n_assigns];
		if (i == n - 1 && strcmp(w->raw, "$") == 0) {
			p->anchored = true;
			break;
		}
		struct pword *pw = &p->w[p->n++];
		if (strcmp(w->raw, "*") == 0) {
			pw->kind = P_STAR;
		} else if (strcmp(w->raw, "**") == 0) {
			pw->kind = P_GLOBSTAR;
		} else if (w->flags & ZB_SH_EXPANDS) {
			pw->kind = P_RAW;
			pw->text = zb_xstrdup(w->raw);
		} else {
			pw->kind = P_LIT;
			pw->text = zb_xstrdup(w->text);
		}
	}
	zb_sh_script_clear(&sc);
	if (p->n == 0) {
		*ret_why = "a pattern of only \"$\" matches nothing; write the command before it";
		return -1;
	}
	if (p->w[0].kind == P_LIT)
		p->ident0 = program_identity(e, p->w[0].text);
	return 0;
}

static void ruleset_clear(struct ruleset *rs)
{
	for (size_t i = 0; i < rs->n; i++) {
		for (size_t k = 0; k < rs->r[i].n; k++)
			pattern_clear(&rs->r[i].p[k]);
		free(rs->r[i].p);
		free(rs->r[i].where);
	}
	free(rs->r);
	*rs = (struct ruleset){0};
}

static struct crule *ruleset_add(struct ruleset *rs, enum zb_decision d, char *where)
{
	rs->r = zb_grow(rs->r, rs->n, sizeof(*rs->r));
	struct crule *r = &rs->r[rs->n++];
	*r = (struct crule){.decision = d, .where = where};
	return r;
}

static int compile_rule(const struct jenv *e, struct ruleset *rs, const struct zb_rule *src,
			const char *label, const char *file, struct zb_error **err)
{
	char *where = zb_xasprintf("%s (%s:%d:%d)", label, file, src->line, src->column);
	struct crule *r = ruleset_add(rs, src->decision, where);
	r->p = zb_xcalloc(src->n_patterns + 1, sizeof(*r->p));
	for (size_t k = 0; k < src->n_patterns; k++) {
		const char *why = NULL;
		if (compile_pattern(e, src->patterns[k], &r->p[r->n++], &why) < 0)
			return zb_error_set(err, ZB_ERR_CONFIG, 0,
					    "%s:%d:%d: %s: pattern \"%s\": %s", file, src->line,
					    src->column, label, src->patterns[k], why);
	}
	return 0;
}

static void jenv_init(struct jenv *e, const struct zb_config *cfg)
{
	*e = (struct jenv){.cfg = cfg, .root = cfg->sandbox.rootfs ? cfg->sandbox.rootfs : ""};
	const char *path = NULL;
	for (size_t i = 0; i < cfg->sandbox.n_env; i++) {
		const char *item = cfg->sandbox.env[i];
		if (strncmp(item, "PATH=", 5) == 0)
			path = item + 5;
		else if (strcmp(item, "PATH") == 0 && getenv("PATH"))
			path = getenv("PATH");
	}
	e->path = zb_xstrdup(path ? path : SANDBOX_PATH);
	if (strcmp(e->root, "/") == 0)
		e->root = "";
}

static void jenv_clear(struct jenv *e)
{
	free(e->path);
}

static void note_restricted(struct jenv *e, const struct ruleset *rs)
{
	e->restricted = false;
	for (size_t i = 0; i < rs->n; i++)
		e->restricted |= rs->r[i].decision != ZB_DECISION_ALLOW;
}

/* The config's rules, then the learned file's. */
static int compile_config_rules(const struct jenv *e, const struct zb_config *cfg,
				struct ruleset *rs, struct zb_error **err)
{
	for (size_t i = 0; i < cfg->approval.n_rules; i++) {
		const struct zb_rule *r = &cfg->approval.rules[i];
		_cleanup_free_ char *label = zb_xasprintf("approval.rules[%zu]", i);
		if (compile_rule(e, rs, r, label, cfg->path, err) < 0)
			return -1;
	}
	for (size_t i = 0; i < cfg->approval.n_learned_rules; i++) {
		const struct zb_rule *r = &cfg->approval.learned_rules[i];
		_cleanup_free_ char *label = zb_xasprintf("learned approval.rules[%zu]", i);
		if (compile_rule(e, rs, r, label, cfg->approval.learned, err) < 0)
			return -1;
	}
	return 0;
}

/* ================================================================ matching */

enum match { M_NO, M_MAYBE, M_YES };

struct arg {
	const char *text; /* the value (expansions as written) */
	const char *raw;  /* as written, for display and for raw patterns */
	unsigned flags;	  /* ZB_SH_* */
	bool sensitive;	  /* only a literal pattern word stands for it */
	bool secret;	  /* NAME=value of a secret-looking NAME: shown masked, never saved */
};

struct mctx {
	const struct jenv *e;
	const struct pattern *p;
	const struct arg *a;
	size_t n;
	bool more_unknown; /* arguments are appended at run time (xargs) */
	bool for_allow;
	bool opts_matter; /* the command has sensitive options, so an expansion might be one */
	char **ident0;	  /* cache of a[0]'s identity */
	bool *ident0_done;
	unsigned char *memo;
};

static enum match m_min(enum match a, enum match b)
{
	return a < b ? a : b;
}

static enum match m_max(enum match a, enum match b)
{
	return a > b ? a : b;
}

static bool same_program(struct mctx *m, const char *pattern_word)
{
	if (!m->p->ident0)
		return false;
	if (!*m->ident0_done) {
		*m->ident0 = program_identity(m->e, m->a[0].text);
		*m->ident0_done = true;
	}
	return *m->ident0 && strcmp(*m->ident0, m->p->ident0) == 0;
}

static enum match m_at(struct mctx *m, size_t pi, size_t ai);

static enum match m_rest(struct mctx *m, size_t ai)
{
	if (m->p->anchored) {
		if (ai == m->n)
			return m->more_unknown ? M_MAYBE : M_YES;
		for (size_t k = ai; k < m->n; k++)
			if (!(m->a[k].flags & ZB_SH_FIELDS))
				return M_NO;
		return M_MAYBE; /* they might all expand to nothing */
	}
	enum match r = M_YES;
	if (!m->for_allow)
		return r;
	for (size_t k = ai; k < m->n; k++) {
		if (m->a[k].sensitive)
			return M_NO;
		if (m->opts_matter && (m->a[k].flags & ZB_SH_EXPANDS))
			r = M_MAYBE;
	}
	if (m->more_unknown && m->opts_matter)
		r = M_MAYBE;
	return r;
}

static enum match m_step(struct mctx *m, size_t pi, size_t ai)
{
	const struct pattern *p = m->p;
	if (pi == p->n)
		return m_rest(m, ai);
	const struct pword *pw = &p->w[pi];
	if (ai == m->n) {
		if (pw->kind == P_GLOBSTAR)
			return m_at(m, pi + 1, ai);
		return m->more_unknown ? M_MAYBE : M_NO;
	}
	const struct arg *a = &m->a[ai];
	bool expands = a->flags & ZB_SH_EXPANDS;
	switch (pw->kind) {
	case P_LIT:
		if (expands)
			return M_MAYBE;
		if (strcmp(pw->text, a->text) == 0 ||
		    (pi == 0 && ai == 0 && same_program(m, pw->text)))
			return m_at(m, pi + 1, ai + 1);
		return M_NO;
	case P_RAW:
		if (expands && strcmp(pw->text, a->raw) == 0)
			return m_at(m, pi + 1, ai + 1);
		return expands ? M_MAYBE : M_NO;
	case P_STAR:
		if (m->for_allow && a->sensitive)
			return M_NO;
		if (a->flags & ZB_SH_FIELDS)
			return m_at(m, pi + 1, ai + 1) == M_NO
				       ? M_MAYBE
				       : m_min(m_at(m, pi + 1, ai + 1), M_MAYBE);
		if (m->for_allow && m->opts_matter && expands)
			return m_min(m_at(m, pi + 1, ai + 1), M_MAYBE);
		return m_at(m, pi + 1, ai + 1);
	case P_GLOBSTAR: {
		enum match r = m_at(m, pi + 1, ai);
		if (r == M_YES)
			return r;
		if (m->for_allow && a->sensitive)
			return r;
		enum match c = m_at(m, pi, ai + 1);
		if (m->for_allow && m->opts_matter && expands)
			c = m_min(c, M_MAYBE);
		return m_max(r, c);
	}
	}
	return M_NO;
}

static enum match m_at(struct mctx *m, size_t pi, size_t ai)
{
	size_t k = pi * (m->n + 1) + ai;
	if (m->memo[k])
		return (enum match)(m->memo[k] - 1);
	enum match r = m_step(m, pi, ai);
	m->memo[k] = (unsigned char)(r + 1);
	return r;
}

/* One identity cache per argv: a[0]'s program is looked up at most once per unit layer. */
struct ident_cache {
	char *id;
	bool done;
};

static enum match match_pattern(const struct jenv *e, const struct pattern *p, const struct arg *a,
				size_t n, bool more_unknown, bool for_allow, bool opts_matter,
				struct ident_cache *cache)
{
	if (p->exact || n == 0)
		return M_NO;
	struct mctx m = {
		.e = e,
		.p = p,
		.a = a,
		.n = n,
		.more_unknown = more_unknown,
		.for_allow = for_allow,
		.opts_matter = opts_matter,
		.ident0 = &cache->id,
		.ident0_done = &cache->done,
		.memo = zb_xcalloc((p->n + 1) * (n + 1), 1),
	};
	enum match r = m_at(&m, 0, 0);
	free(m.memo);
	return r;
}

/* ================================================================ units */

struct unit {
	struct arg *a; /* assignments, wrappers, the command */
	size_t n;
	size_t starts[16]; /* where each layer's command starts in a[] (deny and ask look at
			      each) */
	size_t n_starts;
	struct arg *allow; /* assignments + the innermost command: what an allow must match */
	size_t n_allow;
	bool more_unknown, opts_matter, implicit_ok, deny_only, learnable;
	bool assigned; /* NAME=value in front (or env's): they can change what runs */
	char *hidden;  /* why it runs code the rules cannot see, or NULL */
	char *via;     /* "run by find -exec", ... or NULL */
	char *label;   /* as the human sees it */
};

enum item_kind { I_UNIT, I_WRITE, I_HIDDEN, I_TOOL };

struct item {
	enum item_kind kind;
	enum zb_decision d;
	char *label;
	char *why;
	const char *by; /* "rule" | "default" */
	char *rule;	/* the rule's text, for the audit log */
	bool deny_only;
	struct unit *u;
};

struct judgment {
	enum zb_decision d;
	char *refused; /* not judgeable at all (NUL byte): the message */
	struct item *items;
	size_t n_items;
	struct unit **units;
	size_t n_units;
	struct zb_sh_script *scripts;
	size_t n_scripts;
	char **pool;
	size_t n_pool;
	bool truncated; /* over MAX_UNITS */
};

static const char *pool(struct judgment *j, char *s)
{
	j->pool = zb_grow(j->pool, j->n_pool, sizeof(*j->pool));
	j->pool[j->n_pool++] = s;
	return s;
}

static void unit_free(struct unit *u)
{
	free(u->a);
	free(u->allow);
	free(u->hidden);
	free(u->via);
	free(u->label);
	free(u);
}

static void judgment_clear(struct judgment *j)
{
	for (size_t i = 0; i < j->n_items; i++) {
		free(j->items[i].label);
		free(j->items[i].why);
		free(j->items[i].rule);
	}
	free(j->items);
	for (size_t i = 0; i < j->n_units; i++)
		unit_free(j->units[i]);
	free(j->units);
	for (size_t i = 0; i < j->n_scripts; i++)
		zb_sh_script_clear(&j->scripts[i]);
	free(j->scripts);
	for (size_t i = 0; i < j->n_pool; i++)
		free(j->pool[i]);
	free(j->pool);
	free(j->refused);
	*j = (struct judgment){0};
}

/* Labels are for people: a 100,000-word command is shown by its start. */
#define MAX_LABEL 300

static char *cap_label(char *label)
{
	size_t n = label ? strlen(label) : 0;
	if (n <= MAX_LABEL)
		return label;
	size_t keep = zb_utf8_valid_prefix(label, MAX_LABEL);
	char *c = zb_xasprintf("%.*s… (%zu bytes)", (int)keep, label, n);
	free(label);
	return c;
}

static struct item *add_item(struct judgment *j, enum item_kind kind, char *label)
{
	j->items = zb_grow(j->items, j->n_items, sizeof(*j->items));
	struct item *it = &j->items[j->n_items++];
	*it = (struct item){.kind = kind, .label = cap_label(label)};
	return it;
}

/* The last path component: what a command is called, whatever folder it is in. Used only to
 * recognise commands whose arguments need care, never to allow anything. */
static const char *base_name(const char *s)
{
	const char *b = strrchr(s, '/');
	return b ? b + 1 : s;
}

/* "python3.11" is python, "perl5.36" is perl. */
static bool is_versioned(const char *name, const char *base)
{
	size_t n = strlen(base);
	if (strncmp(name, base, n) != 0)
		return false;
	return strspn(name + n, "0123456789.") == strlen(name + n);
}

static bool is_one(const char *name, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(name, list[i]) == 0)
			return true;
	return false;
}

static const char *const shells[] = {"sh",   "bash",  "dash", "zsh",	 "ksh",
				     "mksh", "ash",   "yash", "fish",	 "csh",
				     "tcsh", "rbash", "posh", "busybox", "toybox"};
/* Programs that run code or other programs they are handed: every argument is
 * sensitive, and a unit of them with no allow rule hides code. */
static const char *const interpreters[] = {
	"python",   "pypy",	"perl",	    "ruby",	   "irb",	  "node",	"nodejs",
	"deno",	    "bun",	"php",	    "lua",	   "luajit",	  "tclsh",	"wish",
	"Rscript",  "R",	"julia",    "osascript",   "pwsh",	  "powershell", "expect",
	"sudo",	    "doas",	"su",	    "runuser",	   "setpriv",	  "chroot",	"unshare",
	"nsenter",  "capsh",	"ssh",	    "scp",	   "sftp",	  "watch",	"parallel",
	"script",   "strace",	"ltrace",   "gdb",	   "valgrind",	  "time",	"ionice",
	"chrt",	    "taskset",	"flock",    "systemd-run", "fakeroot",	  "firejail",	"bwrap",
	"proot",    "xvfb-run", "unbuffer", "tmux",	   "screen",	  "vim",	"vi",
	"nvim",	    "ex",	"view",	    "emacs",	   "emacsclient", "ed",		"sqlite3",
	"npx",	    "pnpx",	"bunx",	    "uvx",	   "pipx",	  "m4",		"dc",
	"gawk-exec"};
/* Shell builtins that run strings as code or change how later commands are found or read. */
static const char *const opaque_builtins[] = {"eval",	 "source", ".",	       "trap",	 "alias",
					      "unalias", "export", "readonly", "local",	 "declare",
					      "typeset", "unset",  "shopt",    "enable", "builtin",
					      "hash",	 "fc",	   "bind",     "set"};
/* Builtins that cannot do anything outside the shell itself. */
static const char *const harmless_builtins[] = {"cd",	 "pushd", "popd",   ":",    "true",
						"false", "exit",  "return", "wait", "shift"};

static bool is_interpreter(const char *name)
{
	if (is_one(name, shells, ZB_ARRAY_SIZE(shells)))
		return true;
	static const char *const versioned[] = {"python", "pypy",  "perl", "ruby", "php",
						"lua",	  "tclsh", "wish", "node"};
	for (size_t i = 0; i < ZB_ARRAY_SIZE(versioned); i++)
		if (is_versioned(name, versioned[i]))
			return true;
	return is_one(name, interpreters, ZB_ARRAY_SIZE(interpreters));
}

static bool lit(const struct arg *a)
{
	return !(a->flags & ZB_SH_EXPANDS);
}

static bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* --opt, --opt=x or an unambiguous prefix of it written with "="; the caller marks the next
 * word too when there is no "=". */
static bool long_opt(const char *w, const char *opt)
{
	size_t n = strlen(opt);
	return strncmp(w, opt, n) == 0 && (w[n] == '\0' || w[n] == '=');
}

/* Mark a[i] sensitive, and its value in the next word when it has none of its own. */
static void mark_with_value(struct arg *a, size_t n, size_t i, bool glued)
{
	a[i].sensitive = true;
	if (!glued && i + 1 < n)
		a[i + 1].sensitive = true;
}

static void mark_all(struct arg *a, size_t from, size_t n)
{
	for (size_t i = from; i < n; i++)
		a[i].sensitive = true;
}

/* Sensitive options of common commands. `a` starts at the command name; returns whether the
 * command has any, so an expansion in it may be one. */
static bool mark_options(struct arg *a, size_t n)
{
	const char *name = base_name(a[0].text);
	if (strcmp(name, "sort") == 0) {
		for (size_t i = 1; i < n; i++) {
			const char *w = a[i].text;
			if (strcmp(w, "--") == 0)
				break;
			if (long_opt(w, "--output") || long_opt(w, "--compress-program"))
				mark_with_value(a, n, i, strchr(w, '='));
			else if (w[0] == '-' && w[1] != '-')
				for (size_t k = 1; w[k]; k++) {
					if (w[k] == 'o') {
						mark_with_value(a, n, i, w[k + 1]);
						break;
					}
					if (strchr("kStTy", w[k])) {
						if (!w[k + 1])
							i++;
						break;
					}
				}
		}
		return true;
	}
	if (strcmp(name, "tree") == 0) {
		for (size_t i = 1; i < n; i++)
			if (starts_with(a[i].text, "-o"))
				mark_with_value(a, n, i, a[i].text[2]);
		return true;
	}
	if (strcmp(name, "rg") == 0) {
		for (size_t i = 1; i < n; i++)
			if (long_opt(a[i].text, "--pre"))
				mark_with_value(a, n, i, strchr(a[i].text, '='));
		return true;
	}
	if (strcmp(name, "file") == 0) {
		for (size_t i = 1; i < n; i++)
			if (strcmp(a[i].text, "-C") == 0 || long_opt(a[i].text, "--compile") ||
			    (a[i].text[0] == '-' && a[i].text[1] != '-' && strchr(a[i].text, 'C')))
				a[i].sensitive = true;
		return true;
	}
	if (strcmp(name, "uniq") == 0) {
		/* uniq INPUT OUTPUT writes OUTPUT. */
		size_t operands = 0;
		for (size_t i = 1; i < n; i++) {
			const char *w = a[i].text;
			if (w[0] == '-' && w[1] && operands == 0) {
				if ((strcmp(w, "-f") == 0 || strcmp(w, "-s") == 0 ||
				     strcmp(w, "-w") == 0))
					i++;
				continue;
			}
			if (++operands >= 2)
				a[i].sensitive = true;
		}
		return true;
	}
	if (strcmp(name, "find") == 0) {
		for (size_t i = 1; i < n; i++) {
			const char *w = a[i].text;
			if (strcmp(w, "-delete") == 0)
				a[i].sensitive = true;
			else if (strcmp(w, "-fprint") == 0 || strcmp(w, "-fprint0") == 0 ||
				 strcmp(w, "-fls") == 0)
				mark_with_value(a, n, i, false);
			else if (strcmp(w, "-fprintf") == 0) {
				mark_with_value(a, n, i, false);
				if (i + 2 < n)
					a[i + 2].sensitive = true;
			}
		}
		return true;
	}
	if (strcmp(name, "git") == 0) {
		size_t i = 1;
		for (; i < n && a[i].text[0] == '-'; i++) {
			const char *w = a[i].text;
			if (strcmp(w, "-c") == 0 || strcmp(w, "-C") == 0)
				mark_with_value(a, n, i++, false);
			else if (starts_with(w, "-c") || long_opt(w, "--config-env") ||
				 long_opt(w, "--exec-path") || long_opt(w, "--git-dir") ||
				 long_opt(w, "--work-tree"))
				mark_with_value(a, n, i, strchr(w, '=') || w[1] == 'c');
		}
		const char *sub = i < n ? a[i].text : "";
		if (strcmp(sub, "filter-branch") == 0 || strcmp(sub, "config") == 0) {
			mark_all(a, i + 1, n);
			return true;
		}
		for (size_t k = i + 1; k < n; k++) {
			const char *w = a[k].text;
			if (long_opt(w, "--output") || long_opt(w, "--exec") ||
			    long_opt(w, "--upload-pack") || long_opt(w, "--receive-pack") ||
			    long_opt(w, "--extcmd") || long_opt(w, "--open-files-in-pager") ||
			    long_opt(w, "--template"))
				mark_with_value(a, n, k, strchr(w, '='));
			else if (strcmp(w, "--ext-diff") == 0 || strcmp(w, "--textconv") == 0)
				a[k].sensitive = true;
			else if (starts_with(w, "-O") && strcmp(sub, "grep") == 0)
				mark_with_value(a, n, k, w[2]);
			else if (strcmp(w, "-x") == 0 &&
				 (strcmp(sub, "rebase") == 0 || strcmp(sub, "difftool") == 0 ||
				  strcmp(sub, "mergetool") == 0))
				mark_with_value(a, n, k, false);
			else if (strcmp(w, "-u") == 0 &&
				 (strcmp(sub, "clone") == 0 || strcmp(sub, "fetch") == 0 ||
				  strcmp(sub, "pull") == 0 || strcmp(sub, "ls-remote") == 0))
				mark_with_value(a, n, k, false);
			else if ((strcmp(w, "run") == 0 && strcmp(sub, "bisect") == 0) ||
				 (strcmp(w, "foreach") == 0 && strcmp(sub, "submodule") == 0))
				mark_all(a, k, n);
		}
		return true;
	}
	if (strcmp(name, "tar") == 0) {
		for (size_t i = 1; i < n; i++) {
			const char *w = a[i].text;
			if (long_opt(w, "--to-command") || long_opt(w, "--use-compress-program") ||
			    long_opt(w, "--checkpoint-action") || long_opt(w, "--info-script") ||
			    long_opt(w, "--new-volume-script") || long_opt(w, "--rsh-command") ||
			    long_opt(w, "--rmt-command"))
				mark_with_value(a, n, i, strchr(w, '='));
			else if (w[0] == '-' && w[1] != '-' && (strchr(w, 'I') || strchr(w, 'F')))
				mark_with_value(a, n, i, false);
			else if (i == 1 && w[0] != '-' && (strchr(w, 'I') || strchr(w, 'F')))
				a[i].sensitive = true;
		}
		return true;
	}
	if (strcmp(name, "rsync") == 0) {
		for (size_t i = 1; i < n; i++) {
			const char *w = a[i].text;
			if (long_opt(w, "--rsh") || long_opt(w, "--rsync-path"))
				mark_with_value(a, n, i, strchr(w, '='));
			else if (w[0] == '-' && w[1] != '-' && strchr(w, 'e'))
				mark_with_value(a, n, i, false);
		}
		return true;
	}
	if (strcmp(name, "zip") == 0) {
		for (size_t i = 1; i < n; i++)
			if (starts_with(a[i].text, "-TT") || long_opt(a[i].text, "--unzip-command"))
				mark_with_value(a, n, i, strchr(a[i].text, '=') || a[i].text[3]);
		return true;
	}
	if (strcmp(name, "sed") == 0 || strcmp(name, "gsed") == 0) {
		/* GNU sed's e command and s///e run commands, w writes files: a script is code,
		 * unless --sandbox turns those off. -i edits in place. */
		bool sandboxed = false, script_opt = false;
		for (size_t i = 1; i < n; i++)
			sandboxed |= strcmp(a[i].text, "--sandbox") == 0;
		for (size_t i = 1; i < n; i++) {
			const char *w = a[i].text;
			if (strcmp(w, "--") == 0)
				break;
			if (starts_with(w, "-i") || long_opt(w, "--in-place") ||
			    (w[0] == '-' && w[1] != '-' && strchr(w, 'i') && !strchr(w, 'e') &&
			     !strchr(w, 'f') && !strchr(w, 'l')))
				a[i].sensitive = true;
			if (long_opt(w, "--expression") || long_opt(w, "--file")) {
				script_opt = true;
				if (!sandboxed || long_opt(w, "--file"))
					mark_with_value(a, n, i, strchr(w, '='));
			} else if (w[0] == '-' && w[1] != '-') {
				for (size_t k = 1; w[k]; k++)
					if (w[k] == 'e' || w[k] == 'f' || w[k] == 'l') {
						if (w[k] != 'l')
							script_opt = true;
						if (!sandboxed || w[k] == 'f')
							mark_with_value(a, n, i, w[k + 1]);
						if (!w[k + 1])
							i++;
						break;
					}
			}
		}
		if (!script_opt && !sandboxed)
			for (size_t i = 1; i < n; i++)
				if (a[i].text[0] != '-' || !a[i].text[1]) {
					a[i].sensitive = true;
					break;
				}
		return true;
	}
	if (strcmp(name, "awk") == 0 || strcmp(name, "gawk") == 0 || strcmp(name, "mawk") == 0 ||
	    strcmp(name, "nawk") == 0) {
		/* An awk program can run commands (system(), "cmd" | getline, print | "cmd") and
		 * write files (print > f); gawk can load extensions (@load, -l). A program with
		 * none of system, |, > or @ in it can do none of that. */
		bool program_opt = false;
		size_t i = 1;
		for (; i < n; i++) {
			const char *w = a[i].text;
			if (strcmp(w, "--") == 0) {
				i++;
				break;
			}
			if (w[0] != '-' || !w[1])
				break;
			if (starts_with(w, "-f") || long_opt(w, "--file") || starts_with(w, "-E") ||
			    long_opt(w, "--exec") || starts_with(w, "-i") ||
			    long_opt(w, "--include") || starts_with(w, "-l") ||
			    long_opt(w, "--load")) {
				program_opt = true;
				bool glued = w[1] != '-' ? w[2] != '\0' : strchr(w, '=') != NULL;
				mark_with_value(a, n, i, glued);
				if (!glued)
					i++;
			} else if (starts_with(w, "-e") || long_opt(w, "--source")) {
				program_opt = true;
				bool glued = w[1] != '-' ? w[2] != '\0' : strchr(w, '=') != NULL;
				size_t v = glued ? i : i + 1;
				if (v < n && strpbrk(a[v].text, "|>@"))
					a[v].sensitive = true;
				if (v < n && strstr(a[v].text, "system"))
					a[v].sensitive = true;
				if (!glued)
					i++;
			} else if ((strcmp(w, "-v") == 0 || strcmp(w, "-F") == 0) && i + 1 < n) {
				i++;
			}
		}
		if (!program_opt && i < n &&
		    (strpbrk(a[i].text, "|>@") || strstr(a[i].text, "system") || !lit(&a[i])))
			a[i].sensitive = true;
		return true;
	}
	return false;
}

/* ---------------------------------------------------------------- wrappers */

/* The options a wrapper takes, as getopt reads them: short flags may be combined ("-cf"), a
 * short option with a value takes the rest of its word or the next word ("-k5", "-k 5"), a
 * long one "--name=value" or "--name value"; "--" ends them. */
struct opt_spec {
	const char *flags;		/* short options without a value */
	const char *valued;		/* short options with one */
	const char *const *long_flags;	/* NULL-terminated */
	const char *const *long_valued; /* NULL-terminated */
	bool dash_ends;			/* "-" ends the options (env), else it is not understood */
	bool old_number;		/* "-5" is an option (nice's old form) */
};

static bool in_list(const char *w, const char *const *list)
{
	for (; list && *list; list++)
		if (strcmp(w, *list) == 0)
			return true;
	return false;
}

/* An option's value in the next word: it must be there and be literal. SECURITY: a word the
 * shell expands ($E, a glob) can become no word or several, and every word after it moves:
 * `env -u $E ls rm x` runs rm when E is empty, so it is not read as "env -u ... ls". */
static bool value_word(const struct arg *a, size_t n, size_t *i)
{
	if (*i + 1 >= n || !lit(&a[*i + 1]))
		return false;
	(*i)++;
	return true;
}

/* The index of the first word after a wrapper's options, or -1 for an option the spec does
 * not have, or a value that is not a literal word (the wrapper is then judged as the command
 * itself). */
static long scan_options(const struct arg *a, size_t n, const struct opt_spec *o)
{
	size_t i = 1;
	for (; i < n && lit(&a[i]) && a[i].text[0] == '-'; i++) {
		const char *w = a[i].text;
		if (strcmp(w, "--") == 0)
			return (long)i + 1;
		if (w[1] == '-') {
			if (in_list(w, o->long_flags))
				continue;
			const char *const *v = o->long_valued;
			while (v && *v && !long_opt(w, *v))
				v++;
			if (!v || !*v)
				return -1;
			if (!strchr(w, '=') && !value_word(a, n, &i))
				return -1;
			continue;
		}
		if (!w[1]) {
			/* getopt stops at "-", an operand (env's "ignore the environment"). */
			if (!o->dash_ends)
				return -1;
			return (long)i;
		}
		if (o->old_number && strspn(w + 1, "0123456789") == strlen(w + 1))
			continue;
		for (size_t k = 1; w[k]; k++) {
			if (o->flags && strchr(o->flags, w[k]))
				continue;
			if (!o->valued || !strchr(o->valued, w[k]))
				return -1;
			if (!w[k + 1] && !value_word(a, n, &i))
				return -1;
			break;
		}
	}
	return (long)i;
}

/* Each returns the index of the command it runs, 0 if it runs none (used alone, so it is
 * the command), or -1 if its options are not understood. `env_assigns` gets the range of
 * env's NAME=value words. */
static long wrap_timeout(const struct arg *a, size_t n)
{
	const struct opt_spec spec = {
		.flags = "v",
		.valued = "ks",
		.long_flags = (const char *const[]){"--preserve-status", "--foreground",
						    "--verbose", NULL},
		.long_valued = (const char *const[]){"--kill-after", "--signal", NULL},
	};
	long i = scan_options(a, n, &spec);
	if (i < 0 || (size_t)i + 1 >= n || !lit(&a[i])) /* DURATION COMMAND */
		return -1;
	return i + 1;
}

static long wrap_nice(const struct arg *a, size_t n)
{
	const struct opt_spec spec = {
		.valued = "n",
		.long_valued = (const char *const[]){"--adjustment", NULL},
		.old_number = true,
	};
	long i = scan_options(a, n, &spec);
	if (i < 0)
		return -1;
	return (size_t)i < n ? i : 0;
}

/* nohup and exec take the command right away, after an optional "--"; any option (bash's
 * exec -a/-c/-l) is not understood. */
static long wrap_no_options(const struct arg *a, size_t n)
{
	static const struct opt_spec none = {0};
	long i = scan_options(a, n, &none);
	if (i < 0)
		return -1;
	return (size_t)i < n ? i : 0;
}

static long wrap_env(const struct arg *a, size_t n, size_t *ret_assigns_from,
		     size_t *ret_assigns_to)
{
	/* -S splits a string into more arguments, -C changes folder, -0 prints: not in the
	 * spec, so env with them is judged as env itself. */
	const struct opt_spec spec = {
		.flags = "iv",
		.valued = "u",
		.long_flags = (const char *const[]){"--ignore-environment", "--debug", NULL},
		.long_valued = (const char *const[]){"--unset", NULL},
		.dash_ends = true,
	};
	long r = scan_options(a, n, &spec);
	if (r < 0)
		return -1;
	size_t i = (size_t)r;
	/* One "-" after the options is env's own (GNU env: the same as -i). */
	if (i < n && lit(&a[i]) && strcmp(a[i].text, "-") == 0)
		i++;
	*ret_assigns_from = i;
	while (i < n && zb_sh_is_assignment(a[i].text))
		i++;
	*ret_assigns_to = i;
	if (i < n && !lit(&a[i]))
		return -1;
	return i < n ? (long)i : 0;
}

static long wrap_command(const struct arg *a, size_t n)
{
	size_t i = 1;
	for (; i < n && lit(&a[i]) && a[i].text[0] == '-'; i++) {
		if (strcmp(a[i].text, "--") == 0) {
			i++;
			break;
		}
		if (strcmp(a[i].text, "-p") != 0)
			return 0; /* command -v / -V: a lookup, judged as it is */
	}
	return i < n ? (long)i : 0;
}

/* stdbuf and setsid need a command: without one they are not understood either. */
static long command_required(const struct arg *a, size_t n, const struct opt_spec *spec)
{
	long i = scan_options(a, n, spec);
	return i >= 0 && (size_t)i < n ? i : -1;
}

static long wrap_stdbuf(const struct arg *a, size_t n)
{
	const struct opt_spec spec = {
		.valued = "ioe",
		.long_valued = (const char *const[]){"--input", "--output", "--error", NULL},
	};
	return command_required(a, n, &spec);
}

static long wrap_setsid(const struct arg *a, size_t n)
{
	const struct opt_spec spec = {
		.flags = "cfw",
		.long_flags = (const char *const[]){"--ctty", "--fork", "--wait", NULL},
	};
	return command_required(a, n, &spec);
}

/* xargs [options] [command [initial-arguments]]: the command gets more arguments from its
 * input, or (with -I) has a placeholder replaced in its arguments. */
static long wrap_xargs(const struct arg *a, size_t n, const char **ret_replace)
{
	size_t i = 1;
	*ret_replace = NULL;
	for (; i < n && lit(&a[i]) && a[i].text[0] == '-' && a[i].text[1]; i++) {
		const char *w = a[i].text;
		if (strcmp(w, "--") == 0) {
			i++;
			break;
		}
		if (w[1] == '-') {
			static const char *const flags[] = {
				"--null", "--interactive", "--no-run-if-empty", "--verbose",
				"--exit", "--show-limits", "--open-tty"};
			static const char *const valued[] = {"--arg-file",  "--delimiter",
							     "--max-args",  "--max-procs",
							     "--max-chars", "--process-slot-var"};
			if (is_one(w, flags, ZB_ARRAY_SIZE(flags)))
				continue;
			bool ok = false;
			for (size_t k = 0; k < ZB_ARRAY_SIZE(valued); k++)
				if (long_opt(w, valued[k])) {
					ok = true;
					if (!strchr(w, '=') && !value_word(a, n, &i))
						return -1;
				}
			if (ok)
				continue;
			if (long_opt(w, "--replace")) {
				*ret_replace = strchr(w, '=') ? strchr(w, '=') + 1 : "{}";
				continue;
			}
			if (long_opt(w, "--eof") || long_opt(w, "--max-lines"))
				continue;
			return -1;
		}
		for (size_t k = 1; w[k]; k++) {
			char c = w[k];
			if (strchr("0prtxo", c))
				continue;
			if (strchr("adELnPsI", c)) {
				if (!w[k + 1] && i + 1 < n && !lit(&a[i + 1]))
					return -1; /* see value_word */
				const char *v =
					w[k + 1] ? w + k + 1 : (i + 1 < n ? a[++i].text : "");
				if (c == 'I')
					*ret_replace = v;
				break;
			}
			if (strchr("eil", c)) {
				if (c == 'i')
					*ret_replace = w[k + 1] ? w + k + 1 : "{}";
				break;
			}
			return -1;
		}
	}
	return i < n ? (long)i : 0;
}

/* ---------------------------------------------------------------- building units */

static void add_script_units(struct judgment *j, const struct jenv *e, const char *text, size_t len,
			     const struct arg *pre, size_t n_pre, bool deny_only, int depth);

static char *join_raw(const struct arg *a, size_t n)
{
	size_t len = 1;
	for (size_t i = 0; i < n; i++)
		len += strlen(a[i].raw) + 1;
	char *s = zb_xmalloc(len);
	s[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (i)
			strcat(s, " ");
		strcat(s, a[i].raw);
	}
	return s;
}

static struct unit *new_unit(struct judgment *j)
{
	struct unit *u = zb_xcalloc(1, sizeof(*u));
	j->units = zb_grow(j->units, j->n_units, sizeof(*j->units));
	j->units[j->n_units++] = u;
	return u;
}

static void set_hidden(struct unit *u, char *why)
{
	if (u->hidden)
		free(why);
	else
		u->hidden = why;
}

/* One simple command: `pre` are the assignments in front of it (the call's env and its own),
 * `w` its words. */
static void add_command_units(struct judgment *j, const struct jenv *e, const struct arg *pre,
			      size_t n_pre, const struct arg *w, size_t n_w, bool deny_only,
			      bool learnable, const char *via, int depth)
{
	if (j->n_units >= MAX_UNITS) {
		j->truncated = true;
		return;
	}
	struct unit *u = new_unit(j);
	struct item *it = add_item(j, I_UNIT, NULL);
	it->u = u;
	u->deny_only = deny_only;
	u->learnable = learnable && !deny_only;
	u->via = via ? zb_xstrdup(via) : NULL;
	u->n = n_pre + n_w;
	u->a = zb_xcalloc(u->n + 1, sizeof(*u->a));
	if (n_pre)
		memcpy(u->a, pre, n_pre * sizeof(*pre));
	if (n_w)
		memcpy(u->a + n_pre, w, n_w * sizeof(*w));
	for (size_t i = 0; i < n_pre; i++) {
		u->a[i].sensitive = true;
		if (u->a[i].secret)
			u->learnable = false; /* a rule would write the secret into a file */
	}
	u->label = join_raw(u->a, u->n);
	u->starts[u->n_starts++] = 0;
	if (n_pre > 0 && n_w > 0)
		u->starts[u->n_starts++] = n_pre;
	if (u->n > MAX_UNIT_WORDS) {
		set_hidden(u, zb_xasprintf("it has more than %d words, too many to judge",
					   MAX_UNIT_WORDS));
		u->learnable = false;
		return;
	}
	/* env's NAME=value words are assignments too: they join the allow argv. */
	size_t env_from = 0, env_to = 0;
	size_t i = n_pre;
	const char *replace = NULL;
	while (i < u->n) {
		struct arg *c = &u->a[i];
		if (!lit(c)) {
			set_hidden(u, zb_xasprintf("the command name %s is only known when it runs",
						   c->raw));
			break;
		}
		/* Only a command found in the system folders can be a wrapper: /work/timeout is
		 * whatever the zone holds. */
		if (strchr(c->text, '/') && !is_system_path(c->text))
			break;
		const char *name = base_name(c->text);
		struct arg *rest = &u->a[i];
		size_t left = u->n - i;
		long k = 0;
		if (strcmp(name, "timeout") == 0)
			k = wrap_timeout(rest, left);
		else if (strcmp(name, "nice") == 0)
			k = wrap_nice(rest, left);
		else if (strcmp(name, "nohup") == 0)
			k = wrap_no_options(rest, left);
		else if (strcmp(name, "env") == 0) {
			size_t f = 0, t = 0;
			k = wrap_env(rest, left, &f, &t);
			if (k >= 0 && t > f) {
				if (env_to > env_from) {
					/* Two envs with assignments: keep it simple, judge as is.
					 */
					k = -1;
				} else {
					env_from = i + f;
					env_to = i + t;
					for (size_t q = env_from; q < env_to; q++)
						u->a[q].sensitive = true;
				}
			}
		} else if (strcmp(name, "command") == 0)
			k = wrap_command(rest, left);
		else if (strcmp(name, "exec") == 0)
			k = wrap_no_options(rest, left);
		else if (strcmp(name, "stdbuf") == 0)
			k = wrap_stdbuf(rest, left);
		else if (strcmp(name, "setsid") == 0)
			k = wrap_setsid(rest, left);
		else if (strcmp(name, "xargs") == 0) {
			k = wrap_xargs(rest, left, &replace);
			if (k > 0 && !replace)
				u->more_unknown = true;
			if (k == 0) {
				/* xargs alone runs echo with its input. */
				u->more_unknown = true;
				static const struct arg echo = {.text = "echo", .raw = "echo"};
				u->a = zb_xrealloc(u->a, (u->n + 2) * sizeof(*u->a));
				u->a[u->n++] = echo;
				k = (long)(u->n - 1 - i);
			}
		} else
			break;
		if (k < 0) {
			/* Not understood: the wrapper is the command, and what it runs hides. */
			mark_all(u->a, i + 1, u->n);
			set_hidden(u,
				   zb_xasprintf("%s has options that are not understood, so what "
						"it runs is not known",
						name));
			break;
		}
		if (k == 0)
			break;
		i += (size_t)k;
		if (u->n_starts < ZB_ARRAY_SIZE(u->starts))
			u->starts[u->n_starts++] = i;
		if (strcmp(name, "xargs") == 0)
			u->learnable = false;
	}
	if (replace && *replace)
		for (size_t q = i; q < u->n; q++)
			if (strstr(u->a[q].text, replace))
				u->a[q].flags |= ZB_SH_EXPANDS;

	/* The innermost command: u->a[i..]. */
	if (i < u->n && lit(&u->a[i])) {
		struct arg *c = &u->a[i];
		const char *name = base_name(c->text);
		bool bare = !strchr(c->text, '/');
		if (bare && is_one(c->text, opaque_builtins, ZB_ARRAY_SIZE(opaque_builtins))) {
			/* `set -e`, `set -o pipefail` and friends only change error handling. */
			bool harmless_set = strcmp(c->text, "set") == 0 && i + 1 < u->n;
			for (size_t q = i + 1; q < u->n && harmless_set; q++) {
				const char *s = u->a[q].text;
				harmless_set =
					lit(&u->a[q]) &&
					(((s[0] == '-' || s[0] == '+') &&
					  strspn(s + 1, "euxvCfn") == strlen(s + 1) && s[1]) ||
					 ((strcmp(s, "-o") == 0 || strcmp(s, "+o") == 0) &&
					  q + 1 < u->n) ||
					 (q > i + 1 &&
					  (strcmp(u->a[q - 1].text, "-o") == 0 ||
					   strcmp(u->a[q - 1].text, "+o") == 0) &&
					  is_one(s,
						 (const char *const[]){
							 "errexit", "nounset", "xtrace", "verbose",
							 "pipefail", "noclobber", "noglob"},
						 7)));
			}
			if (harmless_set)
				u->implicit_ok = true;
			else
				set_hidden(u,
					   zb_xasprintf("the shell builtin %s runs text as code "
							"or changes how later commands are found "
							"or read",
							c->text));
		} else if (bare &&
			   is_one(c->text, harmless_builtins, ZB_ARRAY_SIZE(harmless_builtins))) {
			u->implicit_ok = true;
		} else if (is_interpreter(name)) {
			mark_all(u->a, i + 1, u->n);
			u->opts_matter = true;
			set_hidden(u, zb_xasprintf("%s runs code or commands that the rules cannot "
						   "see",
						   name));
			if (is_one(name, shells, ZB_ARRAY_SIZE(shells)) && depth < MAX_DEPTH) {
				/* sh -c CODE: split CODE, only to find denied commands in it. */
				bool c_flag = false;
				size_t q = i + 1;
				for (; q < u->n && lit(&u->a[q]) &&
				       (u->a[q].text[0] == '-' || u->a[q].text[0] == '+');
				     q++) {
					if (strcmp(u->a[q].text, "--") == 0) {
						q++;
						break;
					}
					if (u->a[q].text[1] != '-' && strchr(u->a[q].text, 'c'))
						c_flag = true;
					if (strcmp(u->a[q].text, "-o") == 0 ||
					    strcmp(u->a[q].text, "+o") == 0)
						q++;
				}
				if (c_flag && q < u->n && lit(&u->a[q]))
					add_script_units(j, e, u->a[q].text, strlen(u->a[q].text),
							 NULL, 0, true, depth + 1);
			}
		} else if (strcmp(name, "find") == 0) {
			/* find … -exec CMD … ; runs CMD for each file: CMD is a unit of its own,
			 * and the find without it is this one. */
			struct arg *keep = zb_xcalloc(u->n + 1, sizeof(*keep));
			size_t nk = 0;
			for (size_t q = 0; q < u->n; q++) {
				const char *t = u->a[q].text;
				bool exec =
					q > i && lit(&u->a[q]) &&
					(strcmp(t, "-exec") == 0 || strcmp(t, "-execdir") == 0 ||
					 strcmp(t, "-ok") == 0 || strcmp(t, "-okdir") == 0);
				if (!exec) {
					keep[nk++] = u->a[q];
					continue;
				}
				size_t from = q + 1, to = from;
				bool plus = false;
				while (to < u->n && strcmp(u->a[to].text, ";") != 0 &&
				       !(strcmp(u->a[to].text, "+") == 0 && to > from &&
					 strcmp(u->a[to - 1].text, "{}") == 0))
					to++;
				plus = to < u->n && strcmp(u->a[to].text, "+") == 0;
				struct arg *sub = zb_xcalloc(to - from + 1, sizeof(*sub));
				for (size_t r = from; r < to; r++) {
					sub[r - from] = u->a[r];
					sub[r - from].sensitive = false;
					if (strstr(sub[r - from].text, "{}"))
						sub[r - from].flags |=
							ZB_SH_EXPANDS | (plus ? ZB_SH_FIELDS : 0);
				}
				_cleanup_free_ char *why = zb_xasprintf("run by find %s", t);
				if (to > from)
					add_command_units(j, e, NULL, 0, sub, to - from, deny_only,
							  false, why, depth + 1);
				free(sub);
				q = to;
			}
			free(u->a);
			u->a = keep;
			u->n = nk;
			u->opts_matter = mark_options(u->a + i, u->n - i);
		} else {
			u->opts_matter = mark_options(u->a + i, u->n - i);
		}
	}

	/* What an allow must match: the assignments (in front, and env's), then the command. */
	size_t n_assign = n_pre + (env_to - env_from);
	u->assigned = n_assign > 0;
	u->n_allow = n_assign + (u->n > i ? u->n - i : 0);
	u->allow = zb_xcalloc(u->n_allow + 1, sizeof(*u->allow));
	if (n_pre)
		memcpy(u->allow, u->a, n_pre * sizeof(*u->a));
	if (env_to > env_from)
		memcpy(u->allow + n_pre, u->a + env_from, (env_to - env_from) * sizeof(*u->a));
	if (u->n > i)
		memcpy(u->allow + n_assign, u->a + i, (u->n - i) * sizeof(*u->a));
	for (size_t q = 0; q < u->n_allow; q++)
		if ((u->allow[q].flags & ZB_SH_EXPANDS) &&
		    (strcmp(u->allow[q].raw, "*") == 0 || strcmp(u->allow[q].raw, "**") == 0))
			u->learnable = false;
	if (u->more_unknown || u->hidden)
		u->learnable = false;
}

static bool harmless_target(const struct zb_sh_word *t)
{
	static const char *const ok[] = {"/dev/null", "/dev/stdout", "/dev/stderr", "/dev/fd/1",
					 "/dev/fd/2"};
	return !(t->flags & ZB_SH_EXPANDS) && is_one(t->text, ok, ZB_ARRAY_SIZE(ok));
}

static void arg_from_word(struct arg *a, const struct zb_sh_word *w)
{
	*a = (struct arg){.text = w->text, .raw = w->raw, .flags = w->flags};
}

static void add_hidden_item(struct judgment *j, char *label, char *why)
{
	struct item *it = add_item(j, I_HIDDEN, label);
	it->why = why;
}

static void add_problem(struct judgment *j, const struct jenv *e, const char *text, size_t len,
			const struct zb_sh_problem *p, bool deny_only, int depth)
{
	if (!deny_only) {
		size_t end = p->has_inner ? p->inner + p->inner_len + 1 : p->offset + 40;
		if (end > p->offset + 80)
			end = p->offset + 80;
		if (end > len)
			end = len;
		const char *nl = memchr(text + p->offset, '\n', end - p->offset);
		if (nl && nl > text + p->offset)
			end = (size_t)(nl - text);
		add_hidden_item(j, zb_xstrndup(text + p->offset, end - p->offset),
				zb_xstrdup(p->what));
	}
	if (p->has_inner && depth < MAX_DEPTH)
		add_script_units(j, e, text + p->inner, p->inner_len, NULL, 0, true, depth + 1);
}

static void add_script_units(struct judgment *j, const struct jenv *e, const char *text, size_t len,
			     const struct arg *pre, size_t n_pre, bool deny_only, int depth)
{
	j->scripts = zb_grow(j->scripts, j->n_scripts, sizeof(*j->scripts));
	struct zb_sh_script *sc = &j->scripts[j->n_scripts++];
	zb_sh_split(text, len, sc);
	/* The script may move when j->scripts grows: work on a copy of the struct (the
	 * arrays inside do not move). */
	struct zb_sh_script s = *sc;
	size_t next_problem = 0;
	for (size_t ci = 0; ci <= s.n_cmds; ci++) {
		/* The problems before this command, so items come in the order of the text. */
		size_t upto = ci < s.n_cmds ? s.cmds[ci].start : SIZE_MAX;
		for (; next_problem < s.n_problems && s.problems[next_problem].offset < upto;
		     next_problem++)
			add_problem(j, e, text, len, &s.problems[next_problem], deny_only, depth);
		if (ci == s.n_cmds)
			break;
		const struct zb_sh_command *c = &s.cmds[ci];
		size_t na = n_pre + c->n_assigns;
		struct arg *as = zb_xcalloc(na + 1, sizeof(*as));
		if (n_pre)
			memcpy(as, pre, n_pre * sizeof(*pre));
		for (size_t k = 0; k < c->n_assigns; k++)
			arg_from_word(&as[n_pre + k], &c->assigns[k]);
		struct arg *ws = zb_xcalloc(c->n_words + 1, sizeof(*ws));
		for (size_t k = 0; k < c->n_words; k++)
			arg_from_word(&ws[k], &c->words[k]);
		if (c->n_words > 0) {
			add_command_units(j, e, as, na, ws, c->n_words, deny_only, true, NULL,
					  depth);
		} else if (c->n_assigns > 0 && !deny_only) {
			add_hidden_item(j, zb_xstrndup(text + c->start, c->end - c->start),
					zb_xasprintf("it sets the shell variable %s for the "
						     "commands after it, which can change what "
						     "they run",
						     c->assigns[0].text));
		}
		free(as);
		free(ws);
		for (size_t k = 0; k < c->n_redirs && !deny_only; k++) {
			const struct zb_sh_redir *r = &c->redirs[k];
			bool write = r->kind == ZB_SH_OUT || r->kind == ZB_SH_APPEND ||
				     r->kind == ZB_SH_CLOBBER || r->kind == ZB_SH_RDWR;
			if ((r->kind == ZB_SH_DUP_OUT || r->kind == ZB_SH_DUP_IN) &&
			    (r->target.flags & ZB_SH_EXPANDS ||
			     (strspn(r->target.text, "0123456789") != strlen(r->target.text) &&
			      strcmp(r->target.text, "-") != 0)))
				write = true;
			if (!write || harmless_target(&r->target))
				continue;
			static const char *const ops[] = {"<",	">",  ">>", ">|",
							  "<>", "<&", ">&", "<<"};
			struct item *it = add_item(
				j, I_WRITE, zb_xasprintf("%s%s", ops[r->kind], r->target.raw));
			(void)it;
		}
	}
	if (j->n_units >= MAX_UNITS && !deny_only)
		add_hidden_item(
			j, zb_xstrdup("(the rest)"),
			zb_xasprintf("it has more than %d commands, too many to judge", MAX_UNITS));
	if (s.stopped && !deny_only && s.n_problems == 0)
		add_hidden_item(j, zb_xstrdup("(the rest)"), zb_xstrdup("it was not examined"));
}

/* ================================================================ deciding */

static const char *decision_word(enum zb_decision d)
{
	return d == ZB_DECISION_ALLOW ? "allowed" : d == ZB_DECISION_DENY ? "denied" : "asks";
}

/* Code the rules cannot see: allowed only where nothing could be refused anyway. */
static enum zb_decision hidden_decision(const struct jenv *e, const char **ret_by)
{
	*ret_by = "default";
	if (e->exact_allow) {
		*ret_by = "rule";
		return ZB_DECISION_ALLOW;
	}
	enum zb_decision d = e->cfg->approval.default_decision;
	if (d == ZB_DECISION_ALLOW && e->restricted)
		return ZB_DECISION_ASK;
	return d;
}

struct hit {
	const struct crule *r;
	const struct pattern *p;
};

static void judge_unit(const struct jenv *e, const struct ruleset *rs, struct unit *u,
		       struct item *it)
{
	struct hit yes[3] = {{0}}, maybe[3] = {{0}};
	/* [0, n_starts): the layers; n_starts: the allow argv. */
	struct ident_cache ids[ZB_ARRAY_SIZE(u->starts) + 1] = {{0}};
	for (size_t ri = 0; ri < rs->n; ri++) {
		const struct crule *r = &rs->r[ri];
		for (size_t pi = 0; pi < r->n; pi++) {
			const struct pattern *p = &r->p[pi];
			if (p->exact)
				continue;
			enum match m = M_NO;
			if (r->decision == ZB_DECISION_ALLOW) {
				if (u->deny_only)
					continue;
				m = match_pattern(e, p, u->allow, u->n_allow, u->more_unknown, true,
						  u->opts_matter, &ids[u->n_starts]);
			} else {
				for (size_t l = 0; l < u->n_starts && m != M_YES; l++)
					m = m_max(m, match_pattern(e, p, u->a + u->starts[l],
								   u->n - u->starts[l],
								   u->more_unknown, false, false,
								   &ids[l]));
				if (m != M_YES)
					m = m_max(m, match_pattern(e, p, u->allow, u->n_allow,
								   u->more_unknown, false, false,
								   &ids[u->n_starts]));
			}
			struct hit *slot = m == M_YES	  ? &yes[r->decision]
					   : m == M_MAYBE ? &maybe[r->decision]
							  : NULL;
			if (slot && !slot->r)
				*slot = (struct hit){r, p};
		}
	}
	for (size_t l = 0; l <= u->n_starts; l++)
		free(ids[l].id);
	it->u = u;
	it->deny_only = u->deny_only;
	it->by = "rule";
#define RULE_TEXT(h)                                                                               \
	zb_xasprintf("%s: %s \"%s\"", (h).r->where, zb_decision_name((h).r->decision),             \
		     (h).p->source)
	if (yes[ZB_DECISION_DENY].r) {
		it->d = ZB_DECISION_DENY;
		it->rule = RULE_TEXT(yes[ZB_DECISION_DENY]);
		it->why = zb_xasprintf("denied by %s", it->rule);
	} else if (yes[ZB_DECISION_ASK].r) {
		it->d = ZB_DECISION_ASK;
		it->rule = RULE_TEXT(yes[ZB_DECISION_ASK]);
		it->why = zb_xasprintf("asks: %s", it->rule);
	} else if (maybe[ZB_DECISION_DENY].r && !e->exact_allow) {
		it->d = ZB_DECISION_ASK;
		it->rule = RULE_TEXT(maybe[ZB_DECISION_DENY]);
		it->why = zb_xasprintf("asks: it may be denied by %s once its expanding words "
				       "($…, globs) are known",
				       it->rule);
	} else if (maybe[ZB_DECISION_ASK].r && !e->exact_allow) {
		it->d = ZB_DECISION_ASK;
		it->rule = RULE_TEXT(maybe[ZB_DECISION_ASK]);
		it->why = zb_xasprintf("asks: it may match %s once its expanding words are known",
				       it->rule);
	} else if (u->deny_only) {
		it->d = ZB_DECISION_ALLOW; /* only a deny or ask counts here */
		it->why = zb_xstrdup("no deny or ask rule matches it");
	} else if (yes[ZB_DECISION_ALLOW].r) {
		it->d = ZB_DECISION_ALLOW;
		it->rule = RULE_TEXT(yes[ZB_DECISION_ALLOW]);
		it->why = zb_xasprintf("allowed by %s", it->rule);
	} else if (e->exact_allow) {
		it->d = ZB_DECISION_ALLOW;
		it->why = zb_xstrdup("allowed by a rule for this exact command text");
	} else if (maybe[ZB_DECISION_ALLOW].r) {
		it->d = ZB_DECISION_ASK;
		it->rule = RULE_TEXT(maybe[ZB_DECISION_ALLOW]);
		it->why = zb_xasprintf("asks: %s allows it only for some values of its words that "
				       "expand when it runs ($…, globs, appended arguments), so a "
				       "rule cannot vouch for it",
				       it->rule);
	} else if (u->hidden || u->assigned) {
		const char *by;
		it->d = hidden_decision(e, &by);
		it->by = by;
		it->why = zb_xasprintf(
			"%s: %s, and no allow rule names it exactly%s", decision_word(it->d),
			u->hidden ? u->hidden
				  : "the variables set in front of it (PATH=…, "
				    "LD_PRELOAD=…) can change what it runs",
			it->d == ZB_DECISION_ASK ? "" : " (approval.default decides)");
	} else if (u->implicit_ok) {
		it->d = ZB_DECISION_ALLOW;
		it->by = "rule";
		it->why = zb_xstrdup("allowed: a shell builtin that cannot act outside the shell");
	} else {
		it->d = e->cfg->approval.default_decision;
		it->by = "default";
		it->why = zb_xasprintf("%s: no allow rule matches it, and approval.default is %s",
				       decision_word(it->d), zb_decision_name(it->d));
	}
#undef RULE_TEXT
	if (u->via) {
		char *w = zb_xasprintf("%s (%s)", it->why, u->via);
		free(it->why);
		it->why = w;
	}
}

static const struct zb_tool_rule *tool_rule(const struct zb_config *cfg, const char *tool)
{
	for (size_t i = 0; i < cfg->approval.n_tools; i++)
		if (strcmp(cfg->approval.tools[i].tool, tool) == 0)
			return &cfg->approval.tools[i];
	return NULL;
}

/* Exact-text patterns: a rule for exactly this command string. */
static void exact_rules(struct jenv *e, const struct ruleset *rs, const char *command,
			struct judgment *j)
{
	_cleanup_free_ char *t = trim(command);
	struct hit hits[3] = {{0}};
	for (size_t ri = 0; ri < rs->n; ri++)
		for (size_t pi = 0; pi < rs->r[ri].n; pi++) {
			const struct pattern *p = &rs->r[ri].p[pi];
			if (p->exact && strcmp(p->source, t) == 0 && !hits[rs->r[ri].decision].r)
				hits[rs->r[ri].decision] = (struct hit){&rs->r[ri], p};
		}
	for (int d = ZB_DECISION_DENY; d >= ZB_DECISION_ALLOW; d--) {
		if (!hits[d].r)
			continue;
		if (d == ZB_DECISION_ALLOW) {
			e->exact_allow = true;
			return;
		}
		struct item *it = add_item(j, I_TOOL, zb_xstrdup(t));
		it->d = (enum zb_decision)d;
		it->by = "rule";
		it->rule = zb_xasprintf("%s: %s \"%s\"", hits[d].r->where,
					zb_decision_name((enum zb_decision)d), hits[d].p->source);
		it->why = zb_xasprintf("%s by %s", decision_word(it->d), it->rule);
		return;
	}
}

/* Judge one tool call by the rules alone. */
static void judge(struct jenv *e, const struct ruleset *rs, const char *tool, const json_t *args,
		  struct judgment *j)
{
	*j = (struct judgment){0};
	const struct zb_config *cfg = e->cfg;
	note_restricted(e, rs);
	e->exact_allow = false;
	const struct zb_tool_rule *tr = e->no_tool_rules ? NULL : tool_rule(cfg, tool);
	if (tr) {
		struct item *it = add_item(j, I_TOOL, zb_xstrdup(tool));
		it->d = tr->decision;
		it->by = "rule";
		it->rule =
			zb_xasprintf("approval.tools.%s: %s", tool, zb_decision_name(tr->decision));
		it->why = zb_xasprintf("%s by %s", decision_word(tr->decision), it->rule);
	}
	if (strcmp(tool, "shell.run") == 0) {
		const json_t *command = json_object_get(args, "command");
		const json_t *argv = json_object_get(args, "argv");
		const json_t *env = json_object_get(args, "env");
		size_t n_env = json_object_size(env);
		struct arg *pre = zb_xcalloc(n_env + 1, sizeof(*pre));
		const char *k;
		json_t *v;
		size_t i = 0;
		json_object_foreach((json_t *)env, k, v)
		{
			const char *val = json_string_value(v) ? json_string_value(v) : "";
			if (json_string_length(v) != strlen(val))
				j->refused = zb_xasprintf("env %s contains a NUL byte, which no "
							  "program can receive; remove it",
							  k);
			_cleanup_free_ char *q = zb_sh_quote(val);
			pre[i].secret = zb_approval_secret_name(k);
			pre[i].text = pool(j, zb_xasprintf("%s=%s", k, val));
			pre[i].raw = pool(j, zb_xasprintf("%s=%s", k, pre[i].secret ? "***" : q));
			pre[i].flags = ZB_SH_QUOTED;
			i++;
		}
		if (command) {
			const char *s = json_string_value(command);
			size_t len = json_string_length(command);
			if (strlen(s) != len)
				j->refused = zb_xstrdup(
					"the command contains a NUL byte; sh would run only the "
					"part "
					"before it, so it is refused. Remove the NUL byte");
			else if (len > MAX_COMMAND_BYTES)
				add_hidden_item(
					j, zb_xstrdup("(the command)"),
					zb_xasprintf("it is longer than %u bytes, too long to "
						     "judge",
						     MAX_COMMAND_BYTES));
			else {
				exact_rules(e, rs, s, j);
				add_script_units(j, e, s, len, pre, n_env, false, 0);
			}
		} else if (argv) {
			size_t n = json_array_size(argv);
			struct arg *w = zb_xcalloc(n + 1, sizeof(*w));
			for (size_t q = 0; q < n; q++) {
				const json_t *s = json_array_get(argv, q);
				w[q].text = json_string_value(s);
				if (json_string_length(s) != strlen(w[q].text))
					j->refused = zb_xasprintf("argv[%zu] contains a NUL byte, "
								  "which no program can "
								  "receive; remove it",
								  q);
				w[q].raw = pool(j, zb_sh_quote(w[q].text));
				w[q].flags = ZB_SH_QUOTED;
			}
			if (n > 0)
				add_command_units(j, e, pre, n_env, w, n, false, true, NULL, 0);
			free(w);
		}
		free(pre);
		/* Writes by redirection, code the splitter did not understand: decided now
		 * that the exact-text rules are known. */
		for (size_t q = 0; q < j->n_items; q++) {
			struct item *it = &j->items[q];
			if (it->kind == I_UNIT) {
				it->label = cap_label(zb_xstrdup(it->u->label));
				judge_unit(e, rs, it->u, it);
			} else if (it->kind == I_WRITE) {
				const struct zb_tool_rule *w = tool_rule(cfg, "fs.write");
				it->d = e->exact_allow ? ZB_DECISION_ALLOW
					: w	       ? w->decision
						       : cfg->approval.default_decision;
				it->by = e->exact_allow || w ? "rule" : "default";
				it->why = zb_xasprintf(
					"%s: a redirection into a file is a write, judged by %s",
					decision_word(it->d),
					e->exact_allow ? "a rule for this exact command text"
					: w	       ? "approval.tools.fs.write"
						       : "approval.default");
			} else if (it->kind == I_HIDDEN) {
				char *what = it->why;
				it->d = hidden_decision(e, &it->by);
				it->why = zb_xasprintf("%s: %s%s", decision_word(it->d), what,
						       it->d == ZB_DECISION_ASK
							       ? ""
							       : " (approval.default decides)");
				free(what);
			}
		}
	} else if (!tr) {
		struct item *it = add_item(j, I_TOOL, zb_xstrdup(tool));
		it->d = ZB_DECISION_ALLOW;
		it->by = "default";
		it->why = zb_xasprintf("allowed: %s has no approval.tools entry, and the fs tools "
				       "are confined by the zones (ro, rw, protect)",
				       tool);
	}
	j->d = ZB_DECISION_ALLOW;
	for (size_t q = 0; q < j->n_items; q++) {
		const struct item *it = &j->items[q];
		if (it->deny_only && it->d == ZB_DECISION_ALLOW)
			continue;
		if (it->d > j->d)
			j->d = it->d;
	}
}

/* ================================================================ texts */

/* Text a person reads on a terminal or in a dialog: control characters, bidirectional
 * overrides and invisible characters shown as escapes, so `ls\r rm` or a right-to-left
 * override cannot make a command look like another one. */
static char *printable(const char *s)
{
	size_t len = strlen(s);
	char *out = zb_xmalloc(len * 10 + 1), *o = out;
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\n') {
			o += sprintf(o, "\\n");
			i++;
		} else if (c == '\t') {
			o += sprintf(o, "\\t");
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			o += sprintf(o, "\\x%02x", c);
			i++;
		} else if (c < 0x80) {
			*o++ = (char)c;
			i++;
		} else {
			size_t n = zb_utf8_valid_prefix(s + i, len - i < 4 ? len - i : 4);
			uint32_t cp = 0;
			size_t seq = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
			if (n < seq) {
				o += sprintf(o, "\\x%02x", c);
				i++;
				continue;
			}
			cp = seq == 2	? (uint32_t)(c & 0x1f)
			     : seq == 3 ? (uint32_t)(c & 0x0f)
					: (uint32_t)(c & 0x07);
			for (size_t k = 1; k < seq; k++)
				cp = (cp << 6) | ((unsigned char)s[i + k] & 0x3f);
			bool hide =
				(cp >= 0x80 && cp <= 0x9f) || cp == 0xa0 || cp == 0xad ||
				(cp >= 0x200b && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202e) ||
				(cp >= 0x2060 && cp <= 0x2069) || cp == 0xfeff ||
				(cp >= 0xfff9 && cp <= 0xfffb) || (cp >= 0xe0000 && cp <= 0xe007f);
			if (hide) {
				o += sprintf(o, "\\u{%04" PRIx32 "}", cp);
			} else {
				memcpy(o, s + i, seq);
				o += seq;
			}
			i += seq;
		}
	}
	*o = '\0';
	return out;
}

static char *explain_text(const struct judgment *j, const char *shown)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	_cleanup_free_ char *p = printable(shown);
	fprintf(f, "command: %s\n", p);
	size_t n = 0;
	for (size_t i = 0; i < j->n_items; i++) {
		const struct item *it = &j->items[i];
		_cleanup_free_ char *label = printable(it->label);
		const char *kind = it->kind == I_WRITE	  ? "redirection"
				   : it->kind == I_HIDDEN ? "not understood"
				   : it->kind == I_TOOL	  ? "tool"
				   : it->deny_only	  ? "inside (checked for deny rules)"
							  : "command";
		fprintf(f, "  %zu. %s: %s\n     %s\n", ++n, kind, label, it->why);
		if (it->u && it->u->n_starts > 1 && it->u->n_allow > 0 && !it->deny_only) {
			_cleanup_free_ char *inner = join_raw(it->u->allow, it->u->n_allow);
			_cleanup_free_ char *pi = printable(inner);
			fprintf(f, "     judged as: %s%s\n", pi,
				it->u->more_unknown ? " … (and arguments from its input)" : "");
		}
	}
	if (n == 0)
		fprintf(f, "  (nothing to run)\n");
	fprintf(f, "verdict: %s\n", zb_decision_name(j->d));
	fclose(f);
	return buf;
}

static char *sample_rule(const struct judgment *j)
{
	for (size_t i = 0; i < j->n_items; i++) {
		const struct item *it = &j->items[i];
		if (it->d == ZB_DECISION_ASK && it->kind == I_UNIT && it->u && it->u->n_allow > 0)
			return join_raw(it->u->allow, it->u->n_allow);
	}
	return NULL;
}

/* Why the call needs a human, in one line per reason. */
static char *ask_reasons(const struct judgment *j)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	bool first = true;
	for (size_t i = 0; i < j->n_items; i++) {
		const struct item *it = &j->items[i];
		if (it->d != ZB_DECISION_ASK)
			continue;
		_cleanup_free_ char *label = printable(it->label);
		fprintf(f, "%s`%s`: %s", first ? "" : "; ", label, it->why);
		first = false;
	}
	fclose(f);
	return buf;
}

static char *deny_message(const struct judgment *j)
{
	for (size_t i = 0; i < j->n_items; i++) {
		const struct item *it = &j->items[i];
		if (it->d != ZB_DECISION_DENY)
			continue;
		_cleanup_free_ char *label = printable(it->label);
		return zb_xasprintf(
			"denied by the approval rules: `%s` is %s. This may not run here; do not "
			"retry it or a variant of it, and ask the user if it is really needed%s",
			label, it->why,
			it->by && strcmp(it->by, "default") == 0
				? " (the user can allow it with a rule in approval.rules)"
				: "");
	}
	return zb_xstrdup("denied by the approval rules");
}

static char *how_to_allow(const struct judgment *j)
{
	_cleanup_free_ char *sample = sample_rule(j);
	_cleanup_free_ char *ps = sample ? printable(sample) : NULL;
	json_t *js = ps ? json_string(ps) : NULL;
	_cleanup_free_ char *q = js ? json_dumps(js, JSON_ENCODE_ANY) : NULL;
	json_decref(js);
	return zb_xasprintf("To allow it, the user can add a rule to the config (for example "
			    "approval: {rules: [{allow: [%s]}]}), or set approval.approver "
			    "({command: [zonebox-approve]} or elicitation) so that someone is "
			    "asked.",
			    q ? q : "\"the command\"");
}

/* ================================================================ config-time checks */

int zb_approval_check_config(const struct zb_config *cfg, struct zb_error **err)
{
	struct jenv e;
	jenv_init(&e, cfg);
	struct ruleset rs = {0};
	int r = compile_config_rules(&e, cfg, &rs, err);
	/* Each example is judged against its own rule only. */
	for (size_t i = 0; r == 0 && i < cfg->approval.n_rules; i++) {
		const struct zb_rule *src = &cfg->approval.rules[i];
		struct ruleset one = {.r = &rs.r[i], .n = 1};
		for (int want = 1; want >= 0 && r == 0; want--) {
			char **ex = want ? src->match : src->not_match;
			size_t n = want ? src->n_match : src->n_not_match;
			for (size_t k = 0; k < n && r == 0; k++) {
				struct judgment j;
				json_t *args = json_pack("{s:s}", "command", ex[k]);
				e.no_tool_rules = true;
				judge(&e, &one, "shell.run", args, &j);
				json_decref(args);
				_cleanup_free_ char *t = trim(ex[k]);
				bool hit = false;
				for (size_t q = 0; q < one.r->n; q++)
					hit |= one.r->p[q].exact &&
					       strcmp(one.r->p[q].source, t) == 0;
				for (size_t q = 0; q < j.n_items; q++)
					hit |= j.items[q].kind == I_UNIT && j.items[q].rule != NULL;
				if (hit != (bool)want)
					r = zb_error_set(err, ZB_ERR_CONFIG, 0,
							 "%s:%d:%d: approval.rules[%zu]: the "
							 "example \"%s\" %s "
							 "the rule, but is listed under %s; fix "
							 "the pattern or "
							 "the example (zonebox --explain shows how "
							 "a command is "
							 "judged)",
							 cfg->path, src->line, src->column, i,
							 ex[k], want ? "does not match" : "matches",
							 want ? "match" : "not_match");
				judgment_clear(&j);
			}
		}
	}
	ruleset_clear(&rs);
	jenv_clear(&e);
	return r;
}

static enum zb_decision judge_text(const struct zb_config *cfg, const char *command,
				   char **ret_text)
{
	struct jenv e;
	jenv_init(&e, cfg);
	struct ruleset rs = {0};
	_cleanup_error_ struct zb_error *err = NULL;
	if (compile_config_rules(&e, cfg, &rs, &err) < 0) {
		*ret_text = zb_xasprintf("%s\n", err->msg);
		ruleset_clear(&rs);
		jenv_clear(&e);
		return ZB_DECISION_DENY;
	}
	struct judgment j;
	json_t *args = json_object();
	json_object_set_new(args, "command", json_stringn(command, strlen(command)));
	judge(&e, &rs, "shell.run", args, &j);
	json_decref(args);
	enum zb_decision d = j.refused ? ZB_DECISION_DENY : j.d;
	*ret_text =
		j.refused ? zb_xasprintf("refused: %s\n", j.refused) : explain_text(&j, command);
	judgment_clear(&j);
	ruleset_clear(&rs);
	jenv_clear(&e);
	return d;
}

enum zb_decision zb_approval_judge_command(const struct zb_config *cfg, const char *command,
					   char **ret_text)
{
	return judge_text(cfg, command, ret_text);
}

char *zb_approval_explain(const struct zb_config *cfg, const char *command)
{
	char *text = NULL;
	enum zb_decision d = judge_text(cfg, command, &text);
	char *out;
	if (d == ZB_DECISION_ASK)
		out = zb_xasprintf("%s(ask: %s)\n", text,
				   cfg->approval.n_approvers
					   ? "the approver is asked; without an answer in time, it "
					     "is denied"
					   : "no approver is configured, so it would be denied");
	else
		out = zb_xstrdup(text);
	free(text);
	return out;
}

/* ================================================================ the server's state */

struct pending;

struct zb_approval {
	struct zb_server *srv;
	const struct zb_config *cfg;
	struct jenv env;
	struct ruleset rules;
	bool rules_broken; /* the config's rules did not compile (never after a checked load) */
	char **learned;	   /* allow patterns learned in this session */
	size_t n_learned;
	struct zb_approvers *approvers;
	struct pending *pending;
	uint64_t next_id;
	/* Writing approval.learned: one write at a time, on the thread pool. */
	uv_work_t write_req;
	bool writing, write_again;
	char *write_text, *write_error;
	bool shutting_down;
	int closes; /* handles still closing */
};

struct pending {
	struct pending *prev, *next;
	struct zb_approval *a;
	struct zb_tool_call *call;
	struct zb_verdict *verdict;
	zb_approved_fn done;
	struct judgment j;
	char *id;
	struct zb_ask *ask;
	uv_timer_t timeout, keepalive;
	int open;
	unsigned ticks;
	uint64_t asked_ms;
};

void zb_verdict_clear(struct zb_verdict *v)
{
	free(v->rule);
	free(v->approver);
	free(v->reason);
	*v = (struct zb_verdict){0};
}

struct zb_approval *zb_approval_new(struct zb_server *srv)
{
	struct zb_approval *a = zb_xcalloc(1, sizeof(*a));
	a->srv = srv;
	a->cfg = zb_server_config(srv);
	jenv_init(&a->env, a->cfg);
	_cleanup_error_ struct zb_error *err = NULL;
	if (compile_config_rules(&a->env, a->cfg, &a->rules, &err) < 0) {
		/* zb_config_load* checked this already; a config built by hand may not be. */
		zb_err("approval rules unusable, every call is refused: %s", err->msg);
		a->rules_broken = true;
	}
	a->approvers = zb_approvers_new(srv);
	return a;
}

void zb_approval_shutdown(struct zb_approval *a)
{
	if (!a || a->shutting_down)
		return;
	a->shutting_down = true;
	zb_approvers_shutdown(a->approvers);
}

void zb_approval_free(struct zb_approval *a)
{
	if (!a)
		return;
	zb_approvers_free(a->approvers);
	ruleset_clear(&a->rules);
	jenv_clear(&a->env);
	for (size_t i = 0; i < a->n_learned; i++)
		free(a->learned[i]);
	free(a->learned);
	free(a->write_text);
	free(a->write_error);
	free(a);
}

/* ---------------------------------------------------------------- learned rules */

static void yaml_string(FILE *f, const char *s)
{
	json_t *j = json_string(s);
	char *q = json_dumps(j, JSON_ENCODE_ANY);
	fputs(q, f);
	free(q);
	json_decref(j);
}

static void yaml_list(FILE *f, const char *key, char *const *v, size_t n)
{
	fprintf(f, "      %s: [", key);
	for (size_t i = 0; i < n; i++) {
		if (i)
			fputs(", ", f);
		yaml_string(f, v[i]);
	}
	fputs("]\n", f);
}

static char *learned_file_text(const struct zb_approval *a)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	fputs("# zonebox: rules learned from \"always\" answers (approval.learned).\n"
	      "# Each allows exactly the command a person saw; \"$\" at the end means no more\n"
	      "# arguments. Edit or delete freely; zonebox rewrites this file when it learns.\n"
	      "approval:\n"
	      "  rules:\n",
	      f);
	const struct zb_config *cfg = a->cfg;
	size_t count = 0;
	for (size_t i = 0; i < cfg->approval.n_learned_rules; i++) {
		const struct zb_rule *r = &cfg->approval.learned_rules[i];
		fprintf(f, "    - %s: [", zb_decision_name(r->decision));
		for (size_t k = 0; k < r->n_patterns; k++) {
			if (k)
				fputs(", ", f);
			yaml_string(f, r->patterns[k]);
		}
		fputs("]\n", f);
		if (r->n_match)
			yaml_list(f, "match", r->match, r->n_match);
		if (r->n_not_match)
			yaml_list(f, "not_match", r->not_match, r->n_not_match);
		count++;
	}
	for (size_t i = 0; i < a->n_learned; i++) {
		fputs("    - allow: [", f);
		yaml_string(f, a->learned[i]);
		fputs("]\n", f);
		count++;
	}
	if (count == 0)
		fputs("    []\n", f);
	fclose(f);
	return buf;
}

static int write_atomically(const char *path, const char *text, char **ret_error)
{
	_cleanup_free_ char *dcopy = zb_xstrdup(path), *bcopy = zb_xstrdup(path);
	const char *dir = dirname(dcopy);
	_cleanup_free_ char *tmp = zb_xasprintf("%s/.%s.XXXXXX", dir, basename(bcopy));
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		*ret_error = zb_xasprintf("cannot create a file in %s: %s", dir, strerror(errno));
		return -1;
	}
	struct stat st;
	fchmod(fd, stat(path, &st) == 0 ? (st.st_mode & 07777) : 0644);
	size_t len = strlen(text), off = 0;
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		off += (size_t)n;
	}
	if (off < len || fsync(fd) < 0) {
		*ret_error = zb_xasprintf("cannot write %s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		*ret_error = zb_xasprintf("cannot rename %s to %s: %s", tmp, path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

static void write_work(uv_work_t *req)
{
	struct zb_approval *a = req->data;
	free(a->write_error);
	a->write_error = NULL;
	write_atomically(a->cfg->approval.learned, a->write_text, &a->write_error);
}

static void start_write(struct zb_approval *a);

static void write_done(uv_work_t *req, int status)
{
	struct zb_approval *a = req->data;
	a->writing = false;
	if (a->write_error)
		zb_err("approval.learned: %s; the rules learned in this session still apply until "
		       "it stops",
		       a->write_error);
	else
		zb_info("approval.learned: saved %s", a->cfg->approval.learned);
	if (a->write_again)
		start_write(a);
}

static void start_write(struct zb_approval *a)
{
	if (!a->cfg->approval.learned)
		return;
	if (a->writing) {
		a->write_again = true;
		return;
	}
	a->write_again = false;
	free(a->write_text);
	a->write_text = learned_file_text(a);
	a->writing = true;
	a->write_req.data = a;
	uv_queue_work(zb_server_loop(a->srv), &a->write_req, write_work, write_done);
}

/* "Always": an allow rule for each asked command, anchored to exactly the argv shown. */
static int learn(struct zb_approval *a, const struct judgment *j, char **ret_learned)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	int n = 0;
	bool partial = false;
	for (size_t i = 0; i < j->n_items; i++) {
		const struct item *it = &j->items[i];
		if (it->d != ZB_DECISION_ASK)
			continue;
		if (it->kind != I_UNIT || !it->u || !it->u->learnable || it->u->n_allow == 0) {
			partial = true;
			continue;
		}
		const struct unit *u = it->u;
		size_t len = 0;
		char **words = zb_xcalloc(u->n_allow + 1, sizeof(*words));
		for (size_t k = 0; k < u->n_allow; k++) {
			words[k] = lit(&u->allow[k]) ? zb_sh_quote(u->allow[k].text)
						     : zb_xstrdup(u->allow[k].raw);
			len += strlen(words[k]) + 1;
		}
		char *pat = zb_xmalloc(len + 3);
		pat[0] = '\0';
		for (size_t k = 0; k < u->n_allow; k++) {
			strcat(pat, words[k]);
			strcat(pat, " ");
			free(words[k]);
		}
		free(words);
		strcat(pat, "$");
		struct pattern p;
		const char *why;
		if (compile_pattern(&a->env, pat, &p, &why) < 0 || p.exact) {
			pattern_clear(&p);
			free(pat);
			partial = true;
			continue;
		}
		struct crule *r = ruleset_add(&a->rules, ZB_DECISION_ALLOW,
					      zb_xstrdup("a rule learned in this session"));
		r->p = zb_xcalloc(1, sizeof(*r->p));
		r->p[0] = p;
		r->n = 1;
		a->learned = zb_grow(a->learned, a->n_learned, sizeof(*a->learned));
		a->learned[a->n_learned++] = zb_xstrdup(pat);
		fprintf(f, "%s\"%s\"", n > 0 ? ", " : "", pat);
		n++;
		free(pat);
	}
	if (partial)
		fprintf(f,
			"%s(parts that change when they run, that set secret variables, or that "
			"are "
			"not commands, could not be saved)",
			n > 0 ? " " : "");
	fclose(f);
	*ret_learned = buf;
	if (n > 0)
		start_write(a);
	return n;
}

/* ---------------------------------------------------------------- questions */

static json_t *zones_json(const struct zb_config *cfg)
{
	json_t *z = json_array();
	for (size_t i = 0; i < cfg->sandbox.n_zones; i++) {
		const struct zb_zone *zone = &cfg->sandbox.zones[i];
		json_t *o = json_object();
		json_object_set_new(o, "name", json_string(zone->name));
		char *p = zb_xasprintf("/%s", zone->name);
		json_object_set_new(o, "path", zb_json_str(p));
		free(p);
		json_object_set_new(o, "mode", json_string(zb_zone_mode_name(zone->mode)));
		json_array_append_new(z, o);
	}
	return z;
}

static json_t *network_json(const struct zb_config *cfg)
{
	if (cfg->sandbox.network == ZB_NET_NONE)
		return json_string("none");
	if (cfg->sandbox.network == ZB_NET_HOST)
		return json_string("host");
	json_t *d = json_array();
	for (size_t i = 0; i < cfg->sandbox.n_allow_domains; i++)
		json_array_append_new(d, json_string(cfg->sandbox.allow_domains[i]));
	return json_pack("{s:o}", "allow", d);
}

static char *reach_text(const struct zb_config *cfg)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	for (size_t i = 0; i < cfg->sandbox.n_zones; i++)
		fprintf(f, "%s/%s (%s)", i ? ", " : "", cfg->sandbox.zones[i].name,
			zb_zone_mode_name(cfg->sandbox.zones[i].mode));
	fprintf(f, "; network: %s",
		cfg->sandbox.network == ZB_NET_NONE   ? "none"
		: cfg->sandbox.network == ZB_NET_HOST ? "host (everything)"
						      : "only the allowed domains");
	fclose(f);
	return buf;
}

/* Names that look like they hold secrets: their values are never shown or logged. */
bool zb_approval_secret_name(const char *name)
{
	static const char *const parts[] = {"SECRET",  "TOKEN",	     "PASSW", "PASSPHRASE",
					    "KEY",     "CREDENTIAL", "AUTH",  "COOKIE",
					    "SESSION", "PRIVATE",    "PWD"};
	for (size_t i = 0; i < ZB_ARRAY_SIZE(parts); i++)
		if (strcasestr(name, parts[i]))
			return strcmp(name, "PWD") != 0 && strcmp(name, "OLDPWD") != 0;
	return false;
}

static json_t *masked_env(const json_t *env)
{
	json_t *o = json_object();
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)env, k, v)
	{
		json_object_set_new(o, k,
				    zb_approval_secret_name(k) ? json_string("***") : json_copy(v));
	}
	return o;
}

static json_t *question_json(const struct pending *p)
{
	const struct zb_tool_call *call = p->call;
	const struct zb_config *cfg = p->a->cfg;
	const json_t *args = call->args;
	json_t *q = json_object();
	json_object_set_new(q, "id", json_string(p->id));
	json_object_set_new(q, "tool", json_string(call->tool->name));
	if (strcmp(call->tool->name, "shell.run") == 0) {
		const json_t *c = json_object_get(args, "command");
		json_object_set_new(q, "command", c ? json_copy((json_t *)c) : json_null());
		const json_t *argv = json_object_get(args, "argv");
		json_object_set_new(q, "argv", argv ? json_deep_copy(argv) : json_null());
		const json_t *cwd = json_object_get(args, "cwd");
		if (cwd)
			json_object_set_new(q, "cwd", json_copy((json_t *)cwd));
		else {
			char *d = zb_xasprintf("/%s", cfg->sandbox.zones[0].name);
			json_object_set_new(q, "cwd", zb_json_str(d));
			free(d);
		}
		if (json_object_get(args, "env"))
			json_object_set_new(q, "env", masked_env(json_object_get(args, "env")));
	} else {
		json_t *a = json_deep_copy(args);
		/* File contents are not part of the question: a path is what is judged. */
		if (json_object_get(a, "content"))
			json_object_set_new(
				a, "content",
				json_sprintf("(%zu characters)",
					     json_string_length(json_object_get(a, "content"))));
		json_object_set_new(q, "arguments", a);
	}
	json_object_set_new(q, "zones", zones_json(cfg));
	json_object_set_new(q, "network", network_json(cfg));
	json_t *asks = json_array();
	const char *rule = NULL;
	for (size_t i = 0; i < p->j.n_items; i++) {
		const struct item *it = &p->j.items[i];
		if (it->d != ZB_DECISION_ASK)
			continue;
		if (!rule)
			rule = it->rule ? it->rule : it->why;
		json_array_append_new(asks,
				      json_pack("{s:o, s:o}", "command", zb_json_str(it->label),
						"why", zb_json_str(it->why)));
	}
	json_object_set_new(q, "rule", rule ? zb_json_str(rule) : json_null());
	json_object_set_new(q, "asks", asks);
	bool learnable = true;
	for (size_t i = 0; i < p->j.n_items; i++) {
		const struct item *it = &p->j.items[i];
		if (it->d == ZB_DECISION_ASK && (it->kind != I_UNIT || !it->u || !it->u->learnable))
			learnable = false;
	}
	json_object_set_new(q, "always_possible", json_boolean(learnable));
	json_object_set_new(q, "timeout_ms", json_integer((json_int_t)cfg->approval.timeout_ms));
	return q;
}

static char *question_message(const struct pending *p)
{
	const struct zb_tool_call *call = p->call;
	const struct zb_config *cfg = p->a->cfg;
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	const json_t *args = call->args;
	if (strcmp(call->tool->name, "shell.run") == 0) {
		const json_t *c = json_object_get(args, "command");
		_cleanup_free_ char *shown = NULL;
		if (c) {
			shown = printable(json_string_value(c));
		} else {
			const json_t *argv = json_object_get(args, "argv");
			struct arg *w = zb_xcalloc(json_array_size(argv) + 1, sizeof(*w));
			char **q = zb_xcalloc(json_array_size(argv) + 1, sizeof(*q));
			for (size_t i = 0; i < json_array_size(argv); i++) {
				q[i] = zb_sh_quote(json_string_value(json_array_get(argv, i)));
				w[i].raw = q[i];
			}
			_cleanup_free_ char *joined = join_raw(w, json_array_size(argv));
			shown = printable(joined);
			for (size_t i = 0; i < json_array_size(argv); i++)
				free(q[i]);
			free(q);
			free(w);
		}
		fprintf(f, "The agent wants to run a command in the zonebox sandbox:\n\n    %s\n\n",
			shown);
		const json_t *cwd = json_object_get(args, "cwd");
		if (cwd) {
			_cleanup_free_ char *pc = printable(json_string_value(cwd));
			fprintf(f, "Folder: %s\n", pc);
		}
		const json_t *env = json_object_get(args, "env");
		if (json_object_size(env) > 0) {
			fputs("Environment:", f);
			const char *k;
			json_t *v;
			json_object_foreach((json_t *)env, k, v)
			{
				_cleanup_free_ char *pk = printable(k);
				_cleanup_free_ char *pv = printable(
					zb_approval_secret_name(k) ? "***" : json_string_value(v));
				fprintf(f, " %s=%s", pk, pv);
			}
			fputs("\n", f);
		}
	} else {
		char *a = json_dumps(args, JSON_COMPACT);
		_cleanup_free_ char *pa = printable(a);
		free(a);
		fprintf(f, "The agent wants to use %s in the zonebox sandbox: %.2000s\n\n",
			call->tool->name, pa);
	}
	_cleanup_free_ char *reach = reach_text(cfg);
	fprintf(f, "It can reach: %s\n", reach);
	_cleanup_free_ char *why = ask_reasons(&p->j);
	fprintf(f, "Why you are asked: %s\n\n", why);
	fputs("allow_once runs it this time; allow_always also saves a rule for exactly this "
	      "command; deny refuses it.",
	      f);
	fclose(f);
	return buf;
}

/* ---------------------------------------------------------------- the wait */

static void pending_closed(uv_handle_t *h)
{
	struct pending *p = h->data;
	if (--p->open > 0)
		return;
	judgment_clear(&p->j);
	free(p->id);
	free(p);
}

/* The end of a question: the call is released (done runs), then the timers close. */
static void finish(struct pending *p, struct zb_error *err)
{
	struct zb_approval *a = p->a;
	if (p->prev)
		p->prev->next = p->next;
	else
		a->pending = p->next;
	if (p->next)
		p->next->prev = p->prev;
	struct zb_tool_call *call = p->call;
	zb_approved_fn done = p->done;
	call->cancel = NULL;
	call->state = NULL;
	p->call = NULL;
	p->verdict = NULL;
	uv_close((uv_handle_t *)&p->timeout, pending_closed);
	uv_close((uv_handle_t *)&p->keepalive, pending_closed);
	done(call, err);
}

static struct zb_error *tool_error(const char *fmt, ...) ZB_PRINTF(1, 2);
static struct zb_error *tool_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = NULL;
	msg = zb_xvasprintf(fmt, ap);
	va_end(ap);
	struct zb_error *err = NULL;
	zb_error_set(&err, ZB_ERR_TOOL, 0, "%s", msg);
	free(msg);
	return err;
}

static void on_answer(void *ud, enum zb_answer answer, const char *who, const char *reason)
{
	struct pending *p = ud;
	struct zb_verdict *v = p->verdict;
	p->ask = NULL;
	v->approver = zb_xstrdup(who);
	v->reason = reason ? zb_xstrdup(reason) : NULL;
	v->by = strstr(who, "elicitation") ? "elicitation" : "approver";
	_cleanup_free_ char *printable_reason = reason ? printable(reason) : NULL;
	_cleanup_free_ char *asks = ask_reasons(&p->j);
	switch (answer) {
	case ZB_ANSWER_ALLOW_ALWAYS: {
		_cleanup_free_ char *learned = NULL;
		int n = learn(p->a, &p->j, &learned);
		v->allowed = true;
		free(v->rule);
		v->rule = n > 0 ? zb_xasprintf("allowed always by %s; learned %s", who, learned)
				: zb_xasprintf("allowed by %s; \"always\" saved nothing: %s", who,
					       learned);
		zb_info("approval: %s", v->rule);
		finish(p, NULL);
		return;
	}
	case ZB_ANSWER_ALLOW_ONCE:
		v->allowed = true;
		free(v->rule);
		v->rule = zb_xasprintf("allowed once by %s", who);
		finish(p, NULL);
		return;
	case ZB_ANSWER_DENY:
		v->allowed = false;
		finish(p, tool_error("the user (asked through %s) denied this call%s%s. It was not "
				     "run. Do not retry it unchanged; ask the user what to do "
				     "instead.",
				     who, printable_reason ? ": " : "",
				     printable_reason ? printable_reason : ""));
		return;
	case ZB_ANSWER_FAILED:
	default: {
		v->allowed = false;
		v->by = "none";
		_cleanup_free_ char *how = how_to_allow(&p->j);
		finish(p, tool_error("needs approval (%s), and the approver %s failed: %s. It was "
				     "not run. %s",
				     asks, who, printable_reason ? printable_reason : "no answer",
				     how));
		return;
	}
	}
}

static void on_timeout(uv_timer_t *t)
{
	struct pending *p = t->data;
	const char *who = p->ask ? zb_ask_who(p->ask) : "the approver";
	_cleanup_free_ char *w = zb_xstrdup(who);
	if (p->ask)
		zb_ask_withdraw(p->ask, "timeout");
	p->ask = NULL;
	struct zb_verdict *v = p->verdict;
	v->allowed = false;
	v->by = "none";
	v->approver = zb_xstrdup(w);
	v->reason = zb_xasprintf("no answer within %" PRIu64 " ms", p->a->cfg->approval.timeout_ms);
	_cleanup_free_ char *asks = ask_reasons(&p->j);
	_cleanup_free_ char *how = how_to_allow(&p->j);
	finish(p, tool_error("needs approval (%s), and %s gave no answer within %" PRIu64
			     " s, so it was denied and not run. The user may not be at the "
			     "prompt: tell them what you want to run and why. %s",
			     asks, w, (p->a->cfg->approval.timeout_ms + 999) / 1000, how));
}

static void on_keepalive(uv_timer_t *t)
{
	struct pending *p = t->data;
	/* Progress must grow with every notification, and the tool's own progress (bytes of
	 * output) starts at 1 later: waiting counts in thousandths. */
	p->ticks++;
	uint64_t waited = (uv_now(zb_server_loop(p->a->srv)) - p->asked_ms) / 1000;
	char msg[128];
	snprintf(msg, sizeof(msg), "waiting for approval (%" PRIu64 " s)", waited);
	zb_tool_call_progress(p->call, (double)p->ticks / 1000.0, -1, msg);
}

static void on_cancel(struct zb_tool_call *call)
{
	struct pending *p = call->state;
	if (p->ask)
		zb_ask_withdraw(p->ask, "cancelled");
	p->ask = NULL;
	p->verdict->allowed = false;
	p->verdict->by = "none";
	p->verdict->reason = zb_xstrdup("the call was cancelled while waiting for approval");
	finish(p, tool_error("cancelled while waiting for approval"));
}

static void fill_verdict(struct zb_verdict *v, const struct judgment *j)
{
	v->allowed = j->d == ZB_DECISION_ALLOW;
	v->by = "rule";
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	bool first = true;
	for (size_t i = 0; i < j->n_items; i++) {
		const struct item *it = &j->items[i];
		if (it->deny_only && it->d == ZB_DECISION_ALLOW)
			continue;
		if (it->d != j->d)
			continue;
		if (it->by && strcmp(it->by, "default") == 0)
			v->by = "default";
		fprintf(f, "%s%s: %s", first ? "" : "; ", it->label, it->why);
		first = false;
	}
	fclose(f);
	v->rule = buf;
}

void zb_approval_begin(struct zb_approval *a, struct zb_tool_call *call, struct zb_verdict *verdict,
		       zb_approved_fn done)
{
	verdict->judged = true;
	if (a->rules_broken) {
		verdict->by = "error";
		done(call, tool_error("the approval rules of the config are unusable (see the "
				      "server's log), so nothing runs; fix the config"));
		return;
	}
	struct pending *p = zb_xcalloc(1, sizeof(*p));
	judge(&a->env, &a->rules, call->tool->name, call->args, &p->j);
	if (p->j.refused) {
		verdict->by = "rule";
		verdict->rule = zb_xstrdup(p->j.refused);
		struct zb_error *err = tool_error("refused: %s", p->j.refused);
		judgment_clear(&p->j);
		free(p);
		done(call, err);
		return;
	}
	fill_verdict(verdict, &p->j);
	if (p->j.d != ZB_DECISION_ASK) {
		struct zb_error *err = NULL;
		if (p->j.d == ZB_DECISION_DENY) {
			_cleanup_free_ char *msg = deny_message(&p->j);
			err = tool_error("%s", msg);
		}
		judgment_clear(&p->j);
		free(p);
		done(call, err);
		return;
	}

	p->a = a;
	p->call = call;
	p->verdict = verdict;
	p->done = done;
	p->id = zb_xasprintf("q%" PRIu64, ++a->next_id);
	json_t *q = question_json(p);
	_cleanup_free_ char *msg = question_message(p);
	_cleanup_free_ char *why = NULL;
	if (a->shutting_down ||
	    zb_approvers_ask(a->approvers, q, msg, on_answer, p, &p->ask, &why) < 0) {
		json_decref(q);
		verdict->allowed = false;
		verdict->by = "none";
		verdict->reason = why ? zb_xstrdup(why) : zb_xstrdup("the server is stopping");
		_cleanup_free_ char *asks = ask_reasons(&p->j);
		_cleanup_free_ char *how = how_to_allow(&p->j);
		struct zb_error *err = tool_error(
			"needs approval, and %s, so it was not run. Needs a human: %s. %s",
			why ? why : "the server is stopping", asks, how);
		judgment_clear(&p->j);
		free(p->id);
		free(p);
		done(call, err);
		return;
	}
	json_decref(q);
	uv_loop_t *loop = zb_server_loop(a->srv);
	p->asked_ms = uv_now(loop);
	uv_timer_init(loop, &p->timeout);
	uv_timer_init(loop, &p->keepalive);
	p->timeout.data = p->keepalive.data = p;
	p->open = 2;
	uv_timer_start(&p->timeout, on_timeout, a->cfg->approval.timeout_ms, 0);
	if (call->progress_token) {
		uv_timer_start(&p->keepalive, on_keepalive, KEEPALIVE_MS, KEEPALIVE_MS);
		p->ticks++;
		zb_tool_call_progress(call, (double)p->ticks / 1000.0, -1,
				      "waiting for approval: a person is asked");
	}
	p->next = a->pending;
	if (p->next)
		p->next->prev = p;
	a->pending = p;
	call->state = p;
	call->cancel = on_cancel;
}

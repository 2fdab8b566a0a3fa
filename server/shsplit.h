/* A POSIX sh tokenizer for judging commands, not for running them: it splits a `command`
 * string the way sh would into simple commands (words, assignments in front, redirections)
 * and the operators between them, and it says what it did not fully understand.
 *
 * It never guesses: anything whose meaning depends on run-time state (command and arithmetic
 * substitution, subshells, compound commands, functions, bash-only syntax, a here-document
 * whose body expands, an unterminated quote) is reported as a problem, and the approval layer
 * treats a script with any problem as one that only a human (or a rule for exactly that
 * text) may allow. Expansions that merely make a word's value unknown ($VAR, globs, ~) are
 * not problems; they are flagged on the word, so the matcher can tell whether a rule still
 * holds whatever the word becomes. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

enum {
	/* The word's value is only known when it runs: $x, ${x}, globs, ~, $'..'. */
	ZB_SH_EXPANDS = 1 << 0,
	/* ... and it may become zero or several words (unquoted expansion, glob, "$@"). */
	ZB_SH_FIELDS = 1 << 1,
	/* Some part of it was quoted or escaped ('*' is a star, not a glob). */
	ZB_SH_QUOTED = 1 << 2,
};

struct zb_sh_word {
	char *text; /* the value with quoting removed; expansions kept as written */
	char *raw;  /* exactly as written in the source */
	unsigned flags;
	size_t offset; /* where it starts in the source */
};

enum zb_sh_redir_kind {
	ZB_SH_IN,      /* <  */
	ZB_SH_OUT,     /* >  */
	ZB_SH_APPEND,  /* >> */
	ZB_SH_CLOBBER, /* >| */
	ZB_SH_RDWR,    /* <> */
	ZB_SH_DUP_IN,  /* <& */
	ZB_SH_DUP_OUT, /* >& */
	ZB_SH_HEREDOC, /* << and <<- */
};

struct zb_sh_redir {
	enum zb_sh_redir_kind kind;
	int fd;			  /* the number written before it, or -1 */
	struct zb_sh_word target; /* file, fd number, "-", or the here-document's delimiter */
	char *heredoc;		  /* the here-document's body */
	bool heredoc_expands;	  /* unquoted delimiter: $, ` and \ in the body are live */
};

struct zb_sh_command {
	struct zb_sh_word *assigns; /* NAME=value words in front of the command */
	size_t n_assigns;
	struct zb_sh_word *words;
	size_t n_words;
	struct zb_sh_redir *redirs;
	size_t n_redirs;
	bool negated;	   /* "! cmd" */
	const char *sep;   /* what follows: ";", "&", "&&", "||", "|", "\n", or "" at the end */
	size_t start, end; /* its bytes in the source */
};

/* Something not understood. For substitutions and subshells, [inner, inner + inner_len) is
 * the code inside, so a caller can still look at it (e.g. for a denied command). */
struct zb_sh_problem {
	char *what;
	size_t offset;
	size_t inner, inner_len;
	bool has_inner;
};

struct zb_sh_script {
	struct zb_sh_command *cmds;
	size_t n_cmds;
	struct zb_sh_problem *problems;
	size_t n_problems;
	/* Parsing stopped at a construct it cannot step over; the rest was not examined. */
	bool stopped;
};

/* Split s[0..len). Never fails: what it cannot understand becomes a problem. */
void zb_sh_split(const char *s, size_t len, struct zb_sh_script *ret);
void zb_sh_script_clear(struct zb_sh_script *sc);

/* A word quoted so that sh (and zb_sh_split) reads it back as exactly `s`, one literal word:
 * as is when it is plain, else in single quotes. */
char *zb_sh_quote(const char *s);
/* NAME=... with a valid NAME (letters, digits, _, not starting with a digit). */
bool zb_sh_is_assignment(const char *s);

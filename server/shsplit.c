/* The sh tokenizer of the approval layer (see shsplit.h). It follows the token recognition
 * rules of POSIX (XCU 2.3) and the grammar of simple commands and lists (2.9, 2.10), and it
 * knows the bash, ksh and zsh spellings that would change how a POSIX reading splits a
 * command (|&, &>, <<<, <(…), $'…', [[, ((, a+=x), because the sandbox's /bin/sh may be any
 * of them: dash on Debian, bash on Fedora, busybox ash on Alpine. Such a spelling is a
 * problem, not a guess.
 *
 * The attack this file exists for (SECURITY-CASES 30): a string that looks like an allowed
 * command to a naive reader and runs something else, e.g. `ls; rm -rf /work`, `ls && curl x`,
 * `ls | sh`, `ls $(rm x)`, "ls\nrm x", 'ls ";" rm' (quotes that only seem to hide an
 * operator), `ls\;rm` (an escaped operator that is really one word). */
#include "shsplit.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

enum tok_kind { T_WORD, T_IONUM, T_OP, T_NEWLINE, T_END };

enum op {
	OP_SEMI,
	OP_AMP,
	OP_AND,
	OP_OR,
	OP_PIPE,
	OP_LPAREN,
	OP_RPAREN,
	OP_LESS,
	OP_GREAT,
	OP_DGREAT,
	OP_CLOBBER,
	OP_LESSGREAT,
	OP_LESSAND,
	OP_GREATAND,
	OP_DLESS,
	OP_DLESSDASH,
};

struct tok {
	enum tok_kind kind;
	enum op op;
	struct zb_sh_word word; /* T_WORD, T_IONUM */
	size_t offset, end;
};

struct buf {
	char *p;
	size_t n, cap;
};

struct pending_heredoc {
	size_t cmd, redir;
	bool strip_tabs;
};

struct scan {
	const char *s;
	size_t len, pos;
	struct zb_sh_script *sc;
	bool stop;
	struct tok back; /* one token of push-back */
	bool have_back;
	struct pending_heredoc *heredocs;
	size_t n_heredocs;
};

static const char *const reserved_words[] = {
	"if",	 "then", "else", "elif", "fi", "do", "done", "case",	 "esac",   "while",
	"until", "for",	 "{",	 "}",	 "in", "[[", "]]",   "function", "select", "coproc",
};

/* ---------------------------------------------------------------- helpers */

static void buf_add(struct buf *b, const char *p, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		b->cap = (b->n + n + 1) * 2;
		b->p = zb_xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->n, p, n);
	b->n += n;
	b->p[b->n] = '\0';
}

static void buf_addc(struct buf *b, char c)
{
	buf_add(b, &c, 1);
}

static char *buf_take(struct buf *b)
{
	if (!b->p)
		return zb_xstrdup("");
	char *p = b->p;
	*b = (struct buf){0};
	return p;
}

static void problem(struct scan *sc, size_t offset, const char *fmt, ...) ZB_PRINTF(3, 4);
static void problem(struct scan *sc, size_t offset, const char *fmt, ...)
{
	struct zb_sh_script *s = sc->sc;
	char *what = NULL;
	va_list ap;
	va_start(ap, fmt);
	what = zb_xvasprintf(fmt, ap);
	va_end(ap);
	s->problems = zb_grow(s->problems, s->n_problems, sizeof(*s->problems));
	s->problems[s->n_problems++] = (struct zb_sh_problem){.what = what, .offset = offset};
}

static void problem_inner(struct scan *sc, size_t offset, size_t inner, size_t inner_len,
			  const char *what)
{
	problem(sc, offset, "%s", what);
	struct zb_sh_problem *p = &sc->sc->problems[sc->sc->n_problems - 1];
	p->inner = inner;
	p->inner_len = inner_len;
	p->has_inner = true;
}

/* Parsing cannot go on past this point: what follows is not examined. */
static void stop(struct scan *sc)
{
	sc->stop = true;
	sc->sc->stopped = true;
}

static bool is_name_start(char c)
{
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_name_char(char c)
{
	return is_name_start(c) || (c >= '0' && c <= '9');
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Characters that end an unquoted word. */
static bool is_meta(char c)
{
	return is_blank(c) || c == '\n' || c == '|' || c == '&' || c == ';' || c == '<' ||
	       c == '>' || c == '(' || c == ')';
}

static void word_clear(struct zb_sh_word *w)
{
	free(w->text);
	free(w->raw);
	*w = (struct zb_sh_word){0};
}

/* ---------------------------------------------------------------- skipping nested code */

static size_t skip_squote(struct scan *sc, size_t p)
{
	while (p < sc->len && sc->s[p] != '\'')
		p++;
	return p < sc->len ? p + 1 : sc->len + 1;
}

static size_t skip_parens(struct scan *sc, size_t p, int depth);

/* p is after an opening '"'; returns the index after the closing one, or len + 1. */
static size_t skip_dquote(struct scan *sc, size_t p)
{
	while (p < sc->len) {
		char c = sc->s[p];
		if (c == '\\') {
			p += 2;
		} else if (c == '"') {
			return p + 1;
		} else if (c == '`') {
			p++;
			while (p < sc->len && sc->s[p] != '`')
				p += sc->s[p] == '\\' ? 2 : 1;
			p++;
		} else if (c == '$' && p + 1 < sc->len && sc->s[p + 1] == '(') {
			p = skip_parens(sc, p + 2, 1);
		} else {
			p++;
		}
	}
	return sc->len + 1;
}

/* p is after `depth` opening brackets `open`; returns the index after the matching `close`,
 * or len + 1. Quotes and backquoted substitutions are stepped over. (A `case` pattern's lone
 * ')' inside $(...) can end it early; what follows then looks like garbage, and since the
 * caller has already recorded a problem, nothing it finds there can make it allowed.) */
static size_t skip_nested(struct scan *sc, size_t p, int depth, char open, char close)
{
	while (p < sc->len) {
		char c = sc->s[p];
		if (c == '\\') {
			p += 2;
		} else if (c == '\'') {
			p = skip_squote(sc, p + 1);
		} else if (c == '"') {
			p = skip_dquote(sc, p + 1);
		} else if (c == '`') {
			p++;
			while (p < sc->len && sc->s[p] != '`')
				p += sc->s[p] == '\\' ? 2 : 1;
			p++;
		} else if (c == open) {
			depth++;
			p++;
		} else if (c == close) {
			p++;
			if (--depth == 0)
				return p;
		} else {
			p++;
		}
	}
	return sc->len + 1;
}

static size_t skip_parens(struct scan *sc, size_t p, int depth)
{
	return skip_nested(sc, p, depth, '(', ')');
}

/* p is after "${"; returns the index after the matching '}', or len + 1. */
static size_t skip_braces(struct scan *sc, size_t p)
{
	return skip_nested(sc, p, 1, '{', '}');
}

/* ---------------------------------------------------------------- words */

/* A '$' at sc->pos, inside double quotes or not. The expansion's source text is appended to
 * the word's text as written, and the word's flags say what it does. */
static void read_dollar(struct scan *sc, struct buf *text, unsigned *flags, bool in_dquote)
{
	const char *s = sc->s;
	size_t start = sc->pos, p = sc->pos + 1;
	unsigned fields = in_dquote ? 0 : ZB_SH_FIELDS;
	char c = p < sc->len ? s[p] : '\0';

	if (c == '(') {
		bool arith = p + 1 < sc->len && s[p + 1] == '(';
		size_t end = skip_parens(sc, p + 1, 1);
		if (end > sc->len) {
			problem(sc, start, "an unterminated $( at offset %zu", start);
			stop(sc);
			sc->pos = sc->len;
			return;
		}
		if (arith)
			problem_inner(sc, start, p + 2, end > p + 4 ? end - p - 4 : 0,
				      "arithmetic expansion $((…)), whose value is only known when "
				      "it runs (and bash evaluates commands hidden in it)");
		else
			problem_inner(sc, start, p + 1, end - p - 2,
				      "command substitution $(…), which runs a command that is "
				      "not judged on its own");
		buf_add(text, s + start, end - start);
		*flags |= ZB_SH_EXPANDS | fields;
		sc->pos = end;
		return;
	}
	if (c == '{') {
		size_t end = skip_braces(sc, p + 1);
		if (end > sc->len) {
			problem(sc, start, "an unterminated ${ at offset %zu", start);
			stop(sc);
			sc->pos = sc->len;
			return;
		}
		/* ${x}, ${x:-word}, ${#x}, ... only change a word's value. Anything that can run
		 * code (a substitution inside, an array subscript, which bash evaluates as
		 * arithmetic, or bash's ${x@P} prompt expansion) is a problem. */
		const char *inner = s + p + 1;
		size_t n = end - p - 2;
		bool code = false;
		for (size_t i = 0; i < n; i++)
			if (inner[i] == '(' || inner[i] == '`' || inner[i] == '[' ||
			    (inner[i] == '@' && i > 0))
				code = true;
		if (code)
			problem(sc, start,
				"a parameter expansion ${…} with a substitution, a subscript or an "
				"operator that can run commands");
		if (n > 0 && (inner[0] == '@' || (inner[0] == '*' && !in_dquote)))
			fields = ZB_SH_FIELDS;
		buf_add(text, s + start, end - start);
		*flags |= ZB_SH_EXPANDS | fields;
		sc->pos = end;
		return;
	}
	if (c == '[') {
		problem(sc, start, "bash's $[…] arithmetic");
		size_t end = p + 1;
		while (end < sc->len && s[end] != ']')
			end++;
		end = end < sc->len ? end + 1 : sc->len;
		buf_add(text, s + start, end - start);
		*flags |= ZB_SH_EXPANDS | fields;
		sc->pos = end;
		return;
	}
	if (c == '\'' && !in_dquote) {
		/* bash and ksh: $'…' with C escapes, so $'\x3b' is ";" as a word; dash reads a '$'
		 * and a quoted string. Either way the value is unknown here: one word, whatever
		 * it says. */
		size_t end = p + 1;
		while (end < sc->len && s[end] != '\'')
			end += s[end] == '\\' ? 2 : 1;
		if (end >= sc->len) {
			problem(sc, start, "an unterminated $' at offset %zu", start);
			stop(sc);
			sc->pos = sc->len;
			return;
		}
		end++;
		buf_add(text, s + start, end - start);
		*flags |= ZB_SH_EXPANDS | ZB_SH_QUOTED;
		sc->pos = end;
		return;
	}
	if (c == '"' && !in_dquote) {
		/* bash's $"…" (translated text): one word of unknown value. The string itself is
		 * read by the caller as a normal double-quoted part. */
		*flags |= ZB_SH_EXPANDS;
		buf_addc(text, '$');
		sc->pos = p;
		return;
	}
	if (is_name_start(c)) {
		while (p < sc->len && is_name_char(s[p]))
			p++;
	} else if (c >= '0' && c <= '9') {
		p++;
	} else if (c != '\0' && strchr("@*#?$!-", c)) {
		if (c == '@')
			fields = ZB_SH_FIELDS;
		p++;
	} else {
		/* A lone '$' is just a dollar sign. */
		buf_addc(text, '$');
		sc->pos = p;
		return;
	}
	buf_add(text, s + start, p - start);
	*flags |= ZB_SH_EXPANDS | fields;
	sc->pos = p;
}

static void read_backtick(struct scan *sc, struct buf *text, unsigned *flags, bool in_dquote)
{
	size_t start = sc->pos, p = sc->pos + 1;
	while (p < sc->len && sc->s[p] != '`')
		p += sc->s[p] == '\\' ? 2 : 1;
	if (p >= sc->len) {
		problem(sc, start, "an unterminated ` at offset %zu", start);
		stop(sc);
		sc->pos = sc->len;
		return;
	}
	problem_inner(sc, start, start + 1, p - start - 1,
		      "command substitution `…`, which runs a command that is not judged on its "
		      "own");
	buf_add(text, sc->s + start, p + 1 - start);
	*flags |= ZB_SH_EXPANDS | (in_dquote ? 0 : ZB_SH_FIELDS);
	sc->pos = p + 1;
}

static void read_dquote(struct scan *sc, struct buf *text, unsigned *flags)
{
	size_t start = sc->pos;
	sc->pos++;
	*flags |= ZB_SH_QUOTED;
	while (sc->pos < sc->len && !sc->stop) {
		char c = sc->s[sc->pos];
		if (c == '"') {
			sc->pos++;
			return;
		}
		if (c == '\\' && sc->pos + 1 < sc->len) {
			char n = sc->s[sc->pos + 1];
			if (n == '\n') {
				sc->pos += 2;
				continue;
			}
			if (n == '$' || n == '`' || n == '"' || n == '\\') {
				buf_addc(text, n);
				sc->pos += 2;
				continue;
			}
			buf_addc(text, '\\');
			sc->pos++;
			continue;
		}
		if (c == '$') {
			read_dollar(sc, text, flags, true);
			continue;
		}
		if (c == '`') {
			read_backtick(sc, text, flags, true);
			continue;
		}
		buf_addc(text, c);
		sc->pos++;
	}
	if (!sc->stop) {
		problem(sc, start, "an unterminated \" at offset %zu", start);
		stop(sc);
	}
}

/* An unquoted '[' starts a bracket expression only when a ']' closes it in the same word;
 * a lone '[' (the test command) is a literal. */
static bool bracket_closes(struct scan *sc, size_t p)
{
	for (p++; p < sc->len && !is_meta(sc->s[p]); p++)
		if (sc->s[p] == ']')
			return true;
	return false;
}

static void read_word(struct scan *sc, struct zb_sh_word *w)
{
	const char *s = sc->s;
	size_t start = sc->pos;
	struct buf text = {0};
	unsigned flags = 0;
	/* Brace expansion (bash, ksh, zsh; not dash): {a,b} or {1..3}, unquoted. */
	bool brace_open = false, brace_sep = false, braces = false;

	while (sc->pos < sc->len && !sc->stop) {
		char c = s[sc->pos];
		if (is_meta(c))
			break;
		switch (c) {
		case '\\':
			if (sc->pos + 1 >= sc->len) {
				buf_addc(&text, '\\');
				sc->pos++;
			} else if (s[sc->pos + 1] == '\n') {
				sc->pos += 2;
			} else {
				buf_addc(&text, s[sc->pos + 1]);
				flags |= ZB_SH_QUOTED;
				sc->pos += 2;
			}
			break;
		case '\'': {
			size_t end = skip_squote(sc, sc->pos + 1);
			if (end > sc->len) {
				problem(sc, sc->pos, "an unterminated ' at offset %zu", sc->pos);
				stop(sc);
				sc->pos = sc->len;
				break;
			}
			buf_add(&text, s + sc->pos + 1, end - sc->pos - 2);
			flags |= ZB_SH_QUOTED;
			sc->pos = end;
			break;
		}
		case '"':
			read_dquote(sc, &text, &flags);
			break;
		case '$':
			read_dollar(sc, &text, &flags, false);
			break;
		case '`':
			read_backtick(sc, &text, &flags, false);
			break;
		case '*':
		case '?':
			flags |= ZB_SH_EXPANDS | ZB_SH_FIELDS;
			buf_addc(&text, c);
			sc->pos++;
			break;
		case '[':
			if (bracket_closes(sc, sc->pos))
				flags |= ZB_SH_EXPANDS | ZB_SH_FIELDS;
			buf_addc(&text, c);
			sc->pos++;
			break;
		case '~':
			if (sc->pos == start)
				flags |= ZB_SH_EXPANDS;
			buf_addc(&text, c);
			sc->pos++;
			break;
		case '{':
			brace_open = true;
			buf_addc(&text, c);
			sc->pos++;
			break;
		case ',':
			brace_sep |= brace_open;
			buf_addc(&text, c);
			sc->pos++;
			break;
		case '.':
			if (brace_open && sc->pos + 1 < sc->len && s[sc->pos + 1] == '.')
				brace_sep = true;
			buf_addc(&text, c);
			sc->pos++;
			break;
		case '}':
			braces |= brace_open && brace_sep;
			buf_addc(&text, c);
			sc->pos++;
			break;
		case '\0':
			problem(sc, sc->pos, "a NUL byte at offset %zu", sc->pos);
			stop(sc);
			sc->pos = sc->len;
			break;
		default:
			buf_addc(&text, c);
			sc->pos++;
		}
	}
	if (braces)
		flags |= ZB_SH_EXPANDS | ZB_SH_FIELDS;
	w->text = buf_take(&text);
	w->raw = zb_xstrndup(s + start, sc->pos - start);
	w->flags = flags;
	w->offset = start;
}

/* ---------------------------------------------------------------- here-documents */

static void read_heredoc_bodies(struct scan *sc)
{
	for (size_t i = 0; i < sc->n_heredocs && !sc->stop; i++) {
		struct pending_heredoc *h = &sc->heredocs[i];
		struct zb_sh_redir *r = &sc->sc->cmds[h->cmd].redirs[h->redir];
		const char *delim = r->target.text;
		bool quoted = r->target.flags & ZB_SH_QUOTED;
		struct buf body = {0};
		bool found = false;
		while (sc->pos < sc->len) {
			size_t eol = sc->pos;
			while (eol < sc->len && sc->s[eol] != '\n')
				eol++;
			size_t b = sc->pos;
			if (h->strip_tabs)
				while (b < eol && sc->s[b] == '\t')
					b++;
			size_t n = eol - b;
			sc->pos = eol < sc->len ? eol + 1 : eol;
			if (n == strlen(delim) && memcmp(sc->s + b, delim, n) == 0) {
				found = true;
				break;
			}
			buf_add(&body, sc->s + b, n);
			buf_addc(&body, '\n');
		}
		r->heredoc = buf_take(&body);
		if (!found) {
			problem(sc, r->target.offset,
				"a here-document that is not ended by a line \"%s\"", delim);
			stop(sc);
		}
		/* With an unquoted delimiter the body is expanded like a double-quoted string:
		 * $(…) in it runs. A body without $, ` or \ is plain data either way. */
		if (!quoted && strpbrk(r->heredoc, "$`\\")) {
			r->heredoc_expands = true;
			problem(sc, r->target.offset,
				"a here-document whose body has $, ` or \\ and an unquoted "
				"delimiter, so it is expanded when it runs (quote the delimiter: "
				"<<'%s')",
				delim);
		}
	}
	sc->n_heredocs = 0;
}

/* ---------------------------------------------------------------- tokens */

static void skip_blanks(struct scan *sc)
{
	while (sc->pos < sc->len) {
		char c = sc->s[sc->pos];
		if (is_blank(c)) {
			sc->pos++;
		} else if (c == '\\' && sc->pos + 1 < sc->len && sc->s[sc->pos + 1] == '\n') {
			sc->pos += 2;
		} else if (c == '#') {
			/* A comment starts at the beginning of a token only: `ls #x` is ls, `ls
			 * a#b` has the argument "a#b". */
			while (sc->pos < sc->len && sc->s[sc->pos] != '\n')
				sc->pos++;
		} else {
			break;
		}
	}
}

static bool bad_op(struct scan *sc, struct tok *t, size_t n, const char *what)
{
	problem(sc, sc->pos, "%.*s at offset %zu: %s", (int)n, sc->s + sc->pos, sc->pos, what);
	stop(sc);
	sc->pos += n;
	t->kind = T_END;
	return false;
}

static bool read_op(struct scan *sc, struct tok *t)
{
	const char *s = sc->s + sc->pos;
	size_t left = sc->len - sc->pos;
	char c1 = left > 1 ? s[1] : '\0', c2 = left > 2 ? s[2] : '\0';
	size_t n = 1;
	t->kind = T_OP;
	switch (s[0]) {
	case ';':
		if (c1 == ';' || c1 == '&')
			return bad_op(sc, t, 2, "a case-statement terminator outside a case");
		t->op = OP_SEMI;
		break;
	case '&':
		if (c1 == '&') {
			t->op = OP_AND;
			n = 2;
		} else if (c1 == '>') {
			return bad_op(
				sc, t, 2,
				"bash redirects both outputs with &>, while POSIX sh runs the "
				"command in the background and redirects an empty one");
		} else {
			t->op = OP_AMP;
		}
		break;
	case '|':
		if (c1 == '|') {
			t->op = OP_OR;
			n = 2;
		} else if (c1 == '&') {
			return bad_op(sc, t, 2, "bash's |& (pipe with standard error)");
		} else {
			t->op = OP_PIPE;
		}
		break;
	case '(':
		t->op = OP_LPAREN;
		break;
	case ')':
		t->op = OP_RPAREN;
		break;
	case '<':
		if (c1 == '<' && c2 == '<')
			return bad_op(sc, t, 3, "bash's here-string <<<");
		if (c1 == '(')
			return bad_op(sc, t, 2, "process substitution <(…)");
		if (c1 == '<' && c2 == '-') {
			t->op = OP_DLESSDASH;
			n = 3;
		} else if (c1 == '<') {
			t->op = OP_DLESS;
			n = 2;
		} else if (c1 == '&') {
			t->op = OP_LESSAND;
			n = 2;
		} else if (c1 == '>') {
			t->op = OP_LESSGREAT;
			n = 2;
		} else {
			t->op = OP_LESS;
		}
		break;
	case '>':
		if (c1 == '(')
			return bad_op(sc, t, 2, "process substitution >(…)");
		if (c1 == '>') {
			t->op = OP_DGREAT;
			n = 2;
		} else if (c1 == '&') {
			t->op = OP_GREATAND;
			n = 2;
		} else if (c1 == '|') {
			t->op = OP_CLOBBER;
			n = 2;
		} else {
			t->op = OP_GREAT;
		}
		break;
	default:
		abort();
	}
	sc->pos += n;
	return true;
}

static void next(struct scan *sc, struct tok *t)
{
	if (sc->have_back) {
		*t = sc->back;
		sc->have_back = false;
		return;
	}
	*t = (struct tok){0};
	skip_blanks(sc);
	t->offset = sc->pos;
	if (sc->stop || sc->pos >= sc->len) {
		t->kind = T_END;
	} else if (sc->s[sc->pos] == '\n') {
		sc->pos++;
		t->kind = T_NEWLINE;
		read_heredoc_bodies(sc);
	} else if (is_meta(sc->s[sc->pos])) {
		read_op(sc, t);
	} else {
		read_word(sc, &t->word);
		t->kind = T_WORD;
		char after = sc->pos < sc->len ? sc->s[sc->pos] : '\0';
		const char *raw = t->word.raw;
		if ((after == '<' || after == '>') && *raw &&
		    strspn(raw, "0123456789") == strlen(raw)) {
			t->kind = T_IONUM;
		} else if ((after == '<' || after == '>') && raw[0] == '{' &&
			   raw[strlen(raw) - 1] == '}') {
			problem(sc, t->offset, "bash's {name}> file-descriptor variable");
		}
	}
	t->end = sc->pos;
}

static void push_back(struct scan *sc, const struct tok *t)
{
	sc->back = *t;
	sc->have_back = true;
}

static void tok_clear(struct tok *t)
{
	if (t->kind == T_WORD || t->kind == T_IONUM)
		word_clear(&t->word);
}

/* ---------------------------------------------------------------- the grammar */

static const char *op_text(enum op op)
{
	static const char *const names[] = {";", "&",  "&&", "||", "|",	 "(",  ")",  "<",
					    ">", ">>", ">|", "<>", "<&", ">&", "<<", "<<-"};
	return names[op];
}

static bool is_redirect(enum op op)
{
	return op >= OP_LESS;
}

bool zb_sh_is_assignment(const char *s)
{
	if (!is_name_start(*s))
		return false;
	while (is_name_char(*s))
		s++;
	return *s == '=';
}

static bool is_reserved(const struct zb_sh_word *w)
{
	if (w->flags & ZB_SH_QUOTED)
		return false;
	for (size_t i = 0; i < ZB_ARRAY_SIZE(reserved_words); i++)
		if (strcmp(w->raw, reserved_words[i]) == 0)
			return true;
	return false;
}

/* bash's a+=x and a[i]=x are assignments to bash and a command name to dash. */
static bool is_bash_assignment(const char *raw)
{
	if (!is_name_start(*raw))
		return false;
	while (is_name_char(*raw))
		raw++;
	return (raw[0] == '+' && raw[1] == '=') || raw[0] == '[';
}

static void syntax(struct scan *sc, const struct tok *t)
{
	if (t->kind == T_END)
		problem(sc, t->offset, "the command ends where sh expects more (a syntax error)");
	else if (t->kind == T_NEWLINE)
		problem(sc, t->offset,
			"a line ends at offset %zu where sh expects more (a syntax "
			"error)",
			t->offset);
	else if (t->kind == T_OP)
		problem(sc, t->offset,
			"\"%s\" at offset %zu where sh expects a command (a syntax "
			"error)",
			op_text(t->op), t->offset);
	else
		problem(sc, t->offset, "\"%s\" at offset %zu is a syntax error", t->word.raw,
			t->offset);
	stop(sc);
}

static struct zb_sh_command *cmd_at(struct scan *sc, size_t i)
{
	return &sc->sc->cmds[i];
}

/* One simple command into a new slot of sc->cmds. Returns false (and stops) if there is
 * none where one is required. */
static bool parse_simple(struct scan *sc)
{
	struct zb_sh_script *s = sc->sc;
	s->cmds = zb_grow(s->cmds, s->n_cmds, sizeof(*s->cmds));
	size_t ci = s->n_cmds++;
	*cmd_at(sc, ci) = (struct zb_sh_command){.sep = ""};
	struct tok t;
	bool first = true, empty = true;

	for (;;) {
		next(sc, &t);
		if (sc->stop && t.kind == T_END)
			break;
		if (first)
			cmd_at(sc, ci)->start = t.offset;
		struct zb_sh_command *c = cmd_at(sc, ci);
		if (t.kind == T_WORD) {
			if (c->n_words == 0 && first && !(t.word.flags & ZB_SH_QUOTED) &&
			    strcmp(t.word.raw, "!") == 0) {
				c->negated = true;
				word_clear(&t.word);
				continue;
			}
			if (c->n_words == 0 && is_reserved(&t.word)) {
				problem(sc, t.offset,
					"the compound command or reserved word \"%s\" at offset "
					"%zu (if, for, while, case, { … } and the like are judged "
					"only by a human)",
					t.word.raw, t.offset);
				tok_clear(&t);
				stop(sc);
				break;
			}
			first = false;
			empty = false;
			if (c->n_words == 0 && is_bash_assignment(t.word.raw)) {
				problem(sc, t.offset,
					"\"%s\": an assignment to bash, a command name to POSIX sh",
					t.word.raw);
			}
			c->end = t.end;
			if (c->n_words == 0 && zb_sh_is_assignment(t.word.raw)) {
				c->assigns = zb_grow(c->assigns, c->n_assigns, sizeof(*c->assigns));
				c->assigns[c->n_assigns++] = t.word;
			} else {
				c->words = zb_grow(c->words, c->n_words, sizeof(*c->words));
				c->words[c->n_words++] = t.word;
			}
			continue;
		}
		if (t.kind == T_IONUM || (t.kind == T_OP && is_redirect(t.op))) {
			first = false;
			empty = false;
			int fd = -1;
			if (t.kind == T_IONUM) {
				fd = atoi(t.word.raw);
				word_clear(&t.word);
				next(sc, &t);
				if (t.kind != T_OP || !is_redirect(t.op)) {
					syntax(sc, &t);
					tok_clear(&t);
					break;
				}
			}
			enum op op = t.op;
			struct tok target;
			next(sc, &target);
			/* After an operator, digits are the target (2>&1>&2), not the next fd. */
			if (target.kind == T_IONUM)
				target.kind = T_WORD;
			if (target.kind != T_WORD) {
				syntax(sc, &target);
				tok_clear(&target);
				break;
			}
			c = cmd_at(sc, ci);
			c->end = target.end;
			struct zb_sh_redir r = {.fd = fd, .target = target.word};
			switch (op) {
			case OP_LESS:
				r.kind = ZB_SH_IN;
				break;
			case OP_GREAT:
				r.kind = ZB_SH_OUT;
				break;
			case OP_DGREAT:
				r.kind = ZB_SH_APPEND;
				break;
			case OP_CLOBBER:
				r.kind = ZB_SH_CLOBBER;
				break;
			case OP_LESSGREAT:
				r.kind = ZB_SH_RDWR;
				break;
			case OP_LESSAND:
				r.kind = ZB_SH_DUP_IN;
				break;
			case OP_GREATAND:
				r.kind = ZB_SH_DUP_OUT;
				break;
			default:
				r.kind = ZB_SH_HEREDOC;
				break;
			}
			c->redirs = zb_grow(c->redirs, c->n_redirs, sizeof(*c->redirs));
			c->redirs[c->n_redirs++] = r;
			if (r.kind == ZB_SH_HEREDOC) {
				sc->heredocs = zb_grow(sc->heredocs, sc->n_heredocs,
						       sizeof(*sc->heredocs));
				sc->heredocs[sc->n_heredocs++] = (struct pending_heredoc){
					.cmd = ci,
					.redir = c->n_redirs - 1,
					.strip_tabs = op == OP_DLESSDASH,
				};
			}
			continue;
		}
		if (t.kind == T_OP && t.op == OP_LPAREN) {
			size_t end = skip_parens(sc, sc->pos, 1);
			if (empty)
				problem_inner(
					sc, t.offset, sc->pos,
					end > sc->len ? sc->len - sc->pos : end - sc->pos - 1,
					"a subshell ( … ), whose commands are judged only by a "
					"human");
			else
				problem(sc, t.offset,
					"a function definition or a stray ( at offset %zu",
					t.offset);
			stop(sc);
			break;
		}
		push_back(sc, &t);
		break;
	}
	if (empty && !sc->stop) {
		next(sc, &t);
		syntax(sc, &t);
		tok_clear(&t);
	}
	if (empty)
		s->n_cmds--; /* nothing was stored in the slot */
	return !empty && !sc->stop;
}

static void parse(struct scan *sc)
{
	struct tok t;
	for (;;) {
		next(sc, &t);
		if (t.kind == T_END)
			break;
		if (t.kind == T_NEWLINE)
			continue;
		push_back(sc, &t);
		/* One and-or list: pipelines joined by && and ||, pipelines of commands joined by
		 * |; a newline may follow any of those operators. */
		for (;;) {
			if (!parse_simple(sc))
				return;
			struct zb_sh_command *c = cmd_at(sc, sc->sc->n_cmds - 1);
			next(sc, &t);
			if (t.kind == T_OP &&
			    (t.op == OP_PIPE || t.op == OP_AND || t.op == OP_OR)) {
				c->sep = op_text(t.op);
				do
					next(sc, &t);
				while (t.kind == T_NEWLINE);
				push_back(sc, &t);
				continue;
			}
			if (t.kind == T_OP && (t.op == OP_SEMI || t.op == OP_AMP)) {
				c->sep = op_text(t.op);
				break;
			}
			if (t.kind == T_NEWLINE) {
				c->sep = "\n";
				break;
			}
			if (t.kind == T_END) {
				if (sc->stop)
					return;
				break;
			}
			syntax(sc, &t);
			tok_clear(&t);
			return;
		}
	}
	if (sc->n_heredocs > 0 && !sc->stop) {
		struct zb_sh_redir *r =
			&sc->sc->cmds[sc->heredocs[0].cmd].redirs[sc->heredocs[0].redir];
		problem(sc, r->target.offset,
			"a here-document without a body (no newline after "
			"its command)");
		stop(sc);
	}
}

void zb_sh_split(const char *s, size_t len, struct zb_sh_script *ret)
{
	*ret = (struct zb_sh_script){0};
	struct scan sc = {.s = s, .len = len, .sc = ret};
	parse(&sc);
	if (sc.have_back)
		tok_clear(&sc.back);
	free(sc.heredocs);
}

void zb_sh_script_clear(struct zb_sh_script *sc)
{
	for (size_t i = 0; i < sc->n_cmds; i++) {
		struct zb_sh_command *c = &sc->cmds[i];
		for (size_t k = 0; k < c->n_assigns; k++)
			word_clear(&c->assigns[k]);
		for (size_t k = 0; k < c->n_words; k++)
			word_clear(&c->words[k]);
		for (size_t k = 0; k < c->n_redirs; k++) {
			word_clear(&c->redirs[k].target);
			free(c->redirs[k].heredoc);
		}
		free(c->assigns);
		free(c->words);
		free(c->redirs);
	}
	free(sc->cmds);
	for (size_t i = 0; i < sc->n_problems; i++)
		free(sc->problems[i].what);
	free(sc->problems);
	*sc = (struct zb_sh_script){0};
}

char *zb_sh_quote(const char *s)
{
	static const char plain[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				    "0123456789_./:@%+,=-";
	size_t n = strlen(s);
	/* A plain word stays as it is, unless it would read back as an assignment. */
	if (n > 0 && strspn(s, plain) == n && !zb_sh_is_assignment(s))
		return zb_xstrdup(s);
	struct buf b = {0};
	buf_addc(&b, '\'');
	for (const char *p = s; *p; p++) {
		if (*p == '\'')
			buf_add(&b, "'\\''", 4);
		else
			buf_addc(&b, *p);
	}
	buf_addc(&b, '\'');
	return buf_take(&b);
}

/* The sh tokenizer of the approval layer: how command strings split into simple commands,
 * words, assignments and redirections, and what is reported as not understood. The table
 * holds the tricks of SECURITY-CASES 30 (operators, quotes that only seem to hide them,
 * escapes, newlines, substitutions, here-documents, bash-only syntax, unicode, control
 * characters) and the everyday commands they hide among. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "server/shsplit.h"
#include "server/util.h"

/* Render a split as text: each command as its parts, then its separator. Words are [text],
 * with $ when they expand and + when they may become several words; assignments A[..];
 * redirections fd, operator and target (here-documents with their body in {}); "!" for a
 * negated pipeline; then "?N" for N problems and "stop" when parsing stopped. */
/* Newlines in a word or body shown as \n, so that every case is one line. */
static void put_text(FILE *f, const char *s)
{
	for (; *s; s++)
		if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
}

static char *dump(const char *in)
{
	struct zb_sh_script sc;
	zb_sh_split(in, strlen(in), &sc);
	static const char *const ops[] = {"<", ">", ">>", ">|", "<>", "<&", ">&", "<<"};
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	for (size_t i = 0; i < sc.n_cmds; i++) {
		const struct zb_sh_command *c = &sc.cmds[i];
		if (c->negated)
			fputs("! ", f);
		for (size_t k = 0; k < c->n_assigns; k++) {
			fputs("A[", f);
			put_text(f, c->assigns[k].text);
			fputs("] ", f);
		}
		for (size_t k = 0; k < c->n_words; k++) {
			fputs("[", f);
			put_text(f, c->words[k].text);
			fprintf(f, "]%s%s ", c->words[k].flags & ZB_SH_EXPANDS ? "$" : "",
				c->words[k].flags & ZB_SH_FIELDS ? "+" : "");
		}
		for (size_t k = 0; k < c->n_redirs; k++) {
			const struct zb_sh_redir *r = &c->redirs[k];
			if (r->fd >= 0)
				fprintf(f, "%d", r->fd);
			fprintf(f, "%s[", ops[r->kind]);
			put_text(f, r->target.text);
			fputs("]", f);
			if (r->heredoc) {
				fputs("{", f);
				put_text(f, r->heredoc);
				fputs("}", f);
			}
			fputs(" ", f);
		}
		fprintf(f, "%s ", strcmp(c->sep, "\n") == 0 ? "NL" : *c->sep ? c->sep : ".");
	}
	if (sc.n_problems)
		fprintf(f, "?%zu ", sc.n_problems);
	if (sc.stopped)
		fputs("stop ", f);
	fclose(f);
	zb_sh_script_clear(&sc);
	size_t n = strlen(buf);
	if (n && buf[n - 1] == ' ')
		buf[n - 1] = '\0';
	return buf;
}

struct split_case {
	const char *in;
	const char *want;
};

static const struct split_case cases[] = {
	{"ls", "[ls] ."},
	{"ls -la", "[ls] [-la] ."},
	{"  ls   -la  ", "[ls] [-la] ."},
	{"ls\t-la", "[ls] [-la] ."},
	{"ls; rm -rf /work", "[ls] ; [rm] [-rf] [/work] ."},
	{"ls;rm -rf /work", "[ls] ; [rm] [-rf] [/work] ."},
	{"ls && curl x", "[ls] && [curl] [x] ."},
	{"ls&&curl x", "[ls] && [curl] [x] ."},
	{"ls || curl x", "[ls] || [curl] [x] ."},
	{"ls | sh", "[ls] | [sh] ."},
	{"ls|sh", "[ls] | [sh] ."},
	{"ls & rm x", "[ls] & [rm] [x] ."},
	{"ls &", "[ls] &"},
	{"ls;", "[ls] ;"},
	{"ls ;", "[ls] ;"},
	{"ls\nrm x", "[ls] NL [rm] [x] ."},
	{"ls\n\nrm x\n", "[ls] NL [rm] [x] NL"},
	{"\nls", "[ls] ."},
	{"ls \\\n-la", "[ls] [-la] ."},
	{"ls\\\nrm", "[lsrm] ."},
	{"ls\\;rm", "[ls;rm] ."},
	{"ls \\; rm", "[ls] [;] [rm] ."},
	{"ls ';' rm", "[ls] [;] [rm] ."},
	{"ls \";\" rm", "[ls] [;] [rm] ."},
	{"ls '&&' rm", "[ls] [&&] [rm] ."},
	{"ls \"|\" sh", "[ls] [|] [sh] ."},
	{"ls '|' sh", "[ls] [|] [sh] ."},
	{"ls 'a b'", "[ls] [a b] ."},
	{"ls \"a b\"", "[ls] [a b] ."},
	{"ls a\\ b", "[ls] [a b] ."},
	{"ls 'it''s'", "[ls] [its] ."},
	{"ls \"it's\"", "[ls] [it's] ."},
	{"ls 'say \"hi\"'", "[ls] [say \"hi\"] ."},
	{"ls \"say \\\"hi\\\"\"", "[ls] [say \"hi\"] ."},
	{"ls \"a\\b\"", "[ls] [a\\b] ."},
	{"ls \"a\\$b\"", "[ls] [a$b] ."},
	{"ls 'a\\b'", "[ls] [a\\b] ."},
	{"ls \"\"", "[ls] [] ."},
	{"ls ''", "[ls] [] ."},
	{"ls \"\" x", "[ls] [] [x] ."},
	{"echo \"$HOME\"", "[echo] [$HOME]$ ."},
	{"echo $HOME", "[echo] [$HOME]$+ ."},
	{"echo ${HOME}", "[echo] [${HOME}]$+ ."},
	{"echo \"${HOME}\"", "[echo] [${HOME}]$ ."},
	{"echo ${HOME:-/tmp}", "[echo] [${HOME:-/tmp}]$+ ."},
	{"echo $1", "[echo] [$1]$+ ."},
	{"echo \"$@\"", "[echo] [$@]$+ ."},
	{"echo $@", "[echo] [$@]$+ ."},
	{"echo \"$*\"", "[echo] [$*]$ ."},
	{"echo $*", "[echo] [$*]$+ ."},
	{"echo $#", "[echo] [$#]$+ ."},
	{"echo $$", "[echo] [$$]$+ ."},
	{"echo $?", "[echo] [$?]$+ ."},
	{"echo $", "[echo] [$] ."},
	{"echo \"a$\"", "[echo] [a$] ."},
	{"echo $'\\x3b'", "[echo] [$'\\x3b']$ ."},
	{"echo $\"hello\"", "[echo] [$hello]$ ."},
	{"echo $(rm -rf /)", "[echo] [$(rm -rf /)]$+ . ?1"},
	{"echo \"$(rm -rf /)\"", "[echo] [$(rm -rf /)]$ . ?1"},
	{"echo `rm -rf /`", "[echo] [`rm -rf /`]$+ . ?1"},
	{"echo \"`rm -rf /`\"", "[echo] [`rm -rf /`]$ . ?1"},
	{"echo $((1+2))", "[echo] [$((1+2))]$+ . ?1"},
	{"echo $[1+2]", "[echo] [$[1+2]]$+ . ?1"},
	{"echo ${x[$(id)]}", "[echo] [${x[$(id)]}]$+ . ?1"},
	{"echo ${x@P}", "[echo] [${x@P}]$+ . ?1"},
	{"echo ${#x}", "[echo] [${#x}]$+ ."},
	{"ls *", "[ls] [*]$+ ."},
	{"ls *.c", "[ls] [*.c]$+ ."},
	{"ls '*.c'", "[ls] [*.c] ."},
	{"ls \"*.c\"", "[ls] [*.c] ."},
	{"ls \\*.c", "[ls] [*.c] ."},
	{"ls a?c", "[ls] [a?c]$+ ."},
	{"ls [abc]", "[ls] [[abc]]$+ ."},
	{"ls [", "[ls] [[] ."},
	{"[ -f x ]", "[[] [-f] [x] []] ."},
	{"test -f x", "[test] [-f] [x] ."},
	{"ls ~", "[ls] [~]$ ."},
	{"ls ~/x", "[ls] [~/x]$ ."},
	{"ls a~b", "[ls] [a~b] ."},
	{"ls '~'", "[ls] [~] ."},
	{"ls {a,b}", "[ls] [{a,b}]$+ ."},
	{"ls {1..3}", "[ls] [{1..3}]$+ ."},
	{"ls {}", "[ls] [{}] ."},
	{"find . -exec rm {} \\;", "[find] [.] [-exec] [rm] [{}] [;] ."},
	{"find . -exec rm {} +", "[find] [.] [-exec] [rm] [{}] [+] ."},
	{"ls #comment", "[ls] ."},
	{"ls # rm -rf /", "[ls] ."},
	{"ls a#b", "[ls] [a#b] ."},
	{"#only a comment", ""},
	{"ls 2>&1", "[ls] 2>&[1] ."},
	{"ls 2> /dev/null", "[ls] 2>[/dev/null] ."},
	{"ls 2>/dev/null", "[ls] 2>[/dev/null] ."},
	{"ls > /work/x", "[ls] >[/work/x] ."},
	{"ls >> /work/x", "[ls] >>[/work/x] ."},
	{"ls >| /work/x", "[ls] >|[/work/x] ."},
	{"ls < in", "[ls] <[in] ."},
	{"ls <> f", "[ls] <>[f] ."},
	{"ls >&2", "[ls] >&[2] ."},
	{"ls 1>&2", "[ls] 1>&[2] ."},
	{"ls <&0", "[ls] <&[0] ."},
	{"ls 3>&-", "[ls] 3>&[-] ."},
	{"ls 2 > x", "[ls] [2] >[x] ."},
	{">x", ">[x] ."},
	{"> x ls", "[ls] >[x] ."},
	{"ls > x y", "[ls] [y] >[x] ."},
	{"ls >\"a b\"", "[ls] >[a b] ."},
	{"FOO=1 ls", "A[FOO=1] [ls] ."},
	{"FOO=1", "A[FOO=1] ."},
	{"FOO=1 BAR=2 ls", "A[FOO=1] A[BAR=2] [ls] ."},
	{"ls FOO=1", "[ls] [FOO=1] ."},
	{"'FOO=1' ls", "[FOO=1] [ls] ."},
	{"F\\OO=1 ls", "[FOO=1] [ls] ."},
	{"a+=1 ls", "[a+=1] [ls] . ?1"},
	{"a[1]=x ls", "[a[1]=x]$+ [ls] . ?1"},
	{"! ls", "! [ls] ."},
	{"! ! ls", "! [ls] ."},
	{"ls | ! grep x", "[ls] | ! [grep] [x] ."},
	{"(ls)", "?1 stop"},
	{"( ls; rm x )", "?1 stop"},
	{"ls; (rm x)", "[ls] ; ?1 stop"},
	{"{ ls; rm x; }", "?1 stop"},
	{"if true; then rm x; fi", "?1 stop"},
	{"for f in *; do rm $f; done", "?1 stop"},
	{"while true; do ls; done", "?1 stop"},
	{"case x in x) rm;; esac", "?1 stop"},
	{"f() { rm x; }", "[f] . ?1 stop"},
	{"function f { rm x; }", "?1 stop"},
	{"[[ -f x ]]", "?1 stop"},
	{"((x=1))", "?1 stop"},
	{"ls |& cat", "[ls] . ?1 stop"},
	{"ls &> x", "[ls] . ?1 stop"},
	{"ls <<< hi", "[ls] . ?1 stop"},
	{"diff <(ls) <(ls b)", "[diff] . ?1 stop"},
	{"tee >(cat)", "[tee] . ?1 stop"},
	{"cat <<EOF\nhello\nEOF", "[cat] <<[EOF]{hello\\n} NL"},
	{"cat <<'EOF'\n$(rm -rf /)\nEOF", "[cat] <<[EOF]{$(rm -rf /)\\n} NL"},
	{"cat <<\"EOF\"\n$x\nEOF", "[cat] <<[EOF]{$x\\n} NL"},
	{"cat <<EOF\n$(rm -rf /)\nEOF", "[cat] <<[EOF]{$(rm -rf /)\\n} NL ?1"},
	{"cat <<-EOF\n\thello\n\tEOF\nrm x", "[cat] <<[EOF]{hello\\n} NL [rm] [x] ."},
	{"cat <<EOF; rm x\nbody\nEOF", "[cat] <<[EOF]{body\\n} ; [rm] [x] NL"},
	{"cat <<EOF\nbody\nEOF\nrm x", "[cat] <<[EOF]{body\\n} NL [rm] [x] ."},
	{"cat <<A <<B\na\nA\nb\nB\nls", "[cat] <<[A]{a\\n} <<[B]{b\\n} NL [ls] ."},
	{"cat <<EOF", "[cat] <<[EOF] . ?1 stop"},
	{"cat <<EOF\nno end", "[cat] <<[EOF]{no end\\n} . ?1 stop"},
	{"cat <<EOF | grep x\nbody\nEOF", "[cat] <<[EOF]{body\\n} | [grep] [x] NL"},
	{"ls 'unterminated", "[ls] [] . ?1 stop"},
	{"ls \"unterminated", "[ls] [unterminated] . ?1 stop"},
	{"ls `unterminated", "[ls] [] . ?1 stop"},
	{"ls $(unterminated", "[ls] [] . ?1 stop"},
	{"ls ${unterminated", "[ls] [] . ?1 stop"},
	{";", "?1 stop"},
	{"; ls", "?1 stop"},
	{"ls ;; rm", "[ls] . ?1 stop"},
	{"| ls", "?1 stop"},
	{"&& ls", "?1 stop"},
	{"ls &&", "[ls] && ?1 stop"},
	{"ls ||", "[ls] || ?1 stop"},
	{"ls |", "[ls] | ?1 stop"},
	{"ls && \nrm x", "[ls] && [rm] [x] ."},
	{"ls |\ngrep x", "[ls] | [grep] [x] ."},
	{"ls & & rm", "[ls] & ?1 stop"},
	{"ls >", "[ls] . ?1 stop"},
	{"ls 2>", "[ls] . ?1 stop"},
	{")", "?1 stop"},
	{"ls )", "[ls] . ?1 stop"},
	{"eval rm x", "[eval] [rm] [x] ."},
	{". ./x", "[.] [./x] ."},
	{"source x", "[source] [x] ."},
	{"exec rm x", "[exec] [rm] [x] ."},
	{"time ls", "[time] [ls] ."},
	{"ls -- -x", "[ls] [--] [-x] ."},
	{"git -c core.pager=less log", "[git] [-c] [core.pager=less] [log] ."},
	{"git status", "[git] [status] ."},
	{"x=$(id) ls", "A[x=$(id)] [ls] . ?1"},
	{"ls \"$(id)\"x", "[ls] [$(id)x]$ . ?1"},
	{"ls \303\251", "[ls] [\303\251] ."},
	{"ls \303\277", "[ls] [\303\277] ."},
	{"ls\346\227\245\346\234\254", "[ls\346\227\245\346\234\254] ."},
	{"echo h\303\251llo w\303\266rld", "[echo] [h\303\251llo] [w\303\266rld] ."},
	{"ls\302\240-la", "[ls\302\240-la] ."},
	{"ls\015", "[ls\015] ."},
	{"ls\trm", "[ls] [rm] ."},
	{"ls\013rm", "[ls\013rm] ."},
	{"ls\\", "[ls\\] ."},
	{"ls \\", "[ls] [\\] ."},
	{"\\ls", "[ls] ."},
	{"\"ls\" -la", "[ls] [-la] ."},
	{"'l's", "[ls] ."},
	{"l's'", "[ls] ."},
	{"ls\342\200\256rm", "[ls\342\200\256rm] ."},
	{"echo a'b'\"c\"d", "[echo] [abcd] ."},
	{"echo \"a\"'b'c", "[echo] [abc] ."},
	{"echo 'a'\\''b'", "[echo] [a'b] ."},
	{"echo \"nested 'quotes'\"", "[echo] [nested 'quotes'] ."},
	{"echo 'nested \"quotes\"'", "[echo] [nested \"quotes\"] ."},
	{"echo \"$(echo \"inner\")\"", "[echo] [$(echo \"inner\")]$ . ?1"},
	{"echo \"${a:-\"b\"}\"", "[echo] [${a:-\"b\"}]$ ."},
	{"echo '$(not)'", "[echo] [$(not)] ."},
	{"echo \"\\$(not)\"", "[echo] [$(not)] ."},
	{"echo \\$(not)", "[echo] [$] . ?1 stop"},
	{"echo \\`not\\`", "[echo] [`not`] ."},
	{"echo '`not`'", "[echo] [`not`] ."},
	{"a=b", "A[a=b] ."},
	{"a=", "A[a=] ."},
	{"a='x y'", "A[a=x y] ."},
	{"a=\"$(id)\"", "A[a=$(id)] . ?1"},
	{"exec", "[exec] ."},
	{"exec 2>/dev/null", "[exec] 2>[/dev/null] ."},
	{"cd /work && make", "[cd] [/work] && [make] ."},
	{"cd /work; ls", "[cd] [/work] ; [ls] ."},
	{"ls 2>&1 | grep x >/dev/null", "[ls] 2>&[1] | [grep] [x] >[/dev/null] ."},
	{"ls 0<x", "[ls] 0<[x] ."},
	{"ls 10>x", "[ls] 10>[x] ."},
	{"ls {fd}>x", "[ls] [{fd}] >[x] . ?1"},
	{"echo a>b", "[echo] [a] >[b] ."},
	{"echo a >b c", "[echo] [a] [c] >[b] ."},
	{"echo 2>b", "[echo] 2>[b] ."},
	{"echo x2>b", "[echo] [x2] >[b] ."},
	{"ls a&&b||c;d&e|f", "[ls] [a] && [b] || [c] ; [d] & [e] | [f] ."},
	{"ls\n# comment\nrm", "[ls] NL [rm] ."},
	{"ls #\nrm", "[ls] NL [rm] ."},
	{"echo # not a comment start?\nls", "[echo] NL [ls] ."},
	{"echo x#y", "[echo] [x#y] ."},
	{"echo '#'x", "[echo] [#x] ."},
	{"ls\015\nrm", "[ls\015] NL [rm] ."},
	{"ls;;", "[ls] . ?1 stop"},
	{"ls & disown", "[ls] & [disown] ."},
	{"ls 2>&1 >/dev/null", "[ls] 2>&[1] >[/dev/null] ."},
	{"ls >/dev/null 2>&1 &", "[ls] >[/dev/null] 2>&[1] &"},
	{"cat file | xargs rm", "[cat] [file] | [xargs] [rm] ."},
	{"find . -name x -delete", "[find] [.] [-name] [x] [-delete] ."},
	{"git log | less", "[git] [log] | [less] ."},
	{"echo ${HOME}x${USER}", "[echo] [${HOME}x${USER}]$+ ."},
	{"echo $(echo ')')", "[echo] [$(echo ')')]$+ . ?1"},
	{"echo $(echo \"(\")", "[echo] [$(echo \"(\")]$+ . ?1"},
	{"echo $( (ls) )", "[echo] [$( (ls) )]$+ . ?1"},
	{"echo `echo \\`nested\\``", "[echo] [`echo \\`nested\\``]$+ . ?1"},
	{"ls \"$(\"", "[ls] [] . ?1 stop"},
	{"ls $HOME/$USER", "[ls] [$HOME/$USER]$+ ."},
	{"ls ${HOME}/*.c", "[ls] [${HOME}/*.c]$+ ."},
	{"ls 'a'\"b\"$c", "[ls] [ab$c]$+ ."},
	{"cat < /etc/passwd > /work/x", "[cat] <[/etc/passwd] >[/work/x] ."},
	{"ls 1>/dev/null 2>/dev/null", "[ls] 1>[/dev/null] 2>[/dev/null] ."},
	{"echo > /dev/null", "[echo] >[/dev/null] ."},
	{"ls 2>&-", "[ls] 2>&[-] ."},
	{"exec 3<>/work/f", "[exec] 3<>[/work/f] ."},
	{"ls ||\n rm", "[ls] || [rm] ."},
	{"ls\t;\trm", "[ls] ; [rm] ."},
	{"   ;ls", "?1 stop"},
	{"ls;;rm", "[ls] . ?1 stop"},
	{"echo hi # comment with ; rm", "[echo] [hi] ."},
	{"echo 'a;b' \"c|d\" e\\&f", "[echo] [a;b] [c|d] [e&f] ."},
	{"X=1 Y=$(id) ls", "A[X=1] A[Y=$(id)] [ls] . ?1"},
	{"ls $((1))", "[ls] [$((1))]$+ . ?1"},
	{"ls ~root", "[ls] [~root]$ ."},
	{"ls a=b", "[ls] [a=b] ."},
	{"=x ls", "[=x] [ls] ."},
	{"1x=2 ls", "[1x=2] [ls] ."},
	{"_x=2 ls", "A[_x=2] [ls] ."},
	{"cat <<-'E'\n\tx\n\tE\nrm", "[cat] <<[E]{x\\n} NL [rm] ."},
	{"cat <<E1; cat <<E2\n1\nE1\n2\nE2\nrm",
	 "[cat] <<[E1]{1\\n} ; [cat] <<[E2]{2\\n} NL [rm] ."},
	{"cat <<E\"O\"F\nx\nEOF\nrm", "[cat] <<[EOF]{x\\n} NL [rm] ."},
	{"cat <<EOF\nEOF", "[cat] <<[EOF]{} NL"},
	{"cat <<EOF\n  EOF\nEOF", "[cat] <<[EOF]{  EOF\\n} NL"},
	{"cat <<EOF\nback\\slash\nEOF", "[cat] <<[EOF]{back\\slash\\n} NL ?1"},
	{"cat <<'EOF'\nback\\slash\nEOF", "[cat] <<[EOF]{back\\slash\\n} NL"},
	{"cat <<EOF\n`id`\nEOF", "[cat] <<[EOF]{`id`\\n} NL ?1"},
	{"cat << EOF\nspaced\nEOF", "[cat] <<[EOF]{spaced\\n} NL"},
	{"ls &&& rm", "[ls] && ?1 stop"},
	{"ls ||| rm", "[ls] || ?1 stop"},
	{"ls >>> x", "[ls] . ?1 stop"},
	{"ls >&", "[ls] . ?1 stop"},
	{"ls 2>&1>&2", "[ls] 2>&[1] >&[2] ."},
	{"2>x ls", "[ls] 2>[x] ."},
	{"echo a\\\nb", "[echo] [ab] ."},
	{"echo 'a\\\nb'", "[echo] [a\\\\nb] ."},
	{"echo \"a\\\nb\"", "[echo] [ab] ."},
	{"echo \\\\", "[echo] [\\] ."},
	{"ls -- ';'", "[ls] [--] [;] ."},
	{"sh -c 'rm -rf /'", "[sh] [-c] [rm -rf /] ."},
	{"bash -c \"rm -rf /\"", "[bash] [-c] [rm -rf /] ."},
	{"python3 -c 'import os'", "[python3] [-c] [import os] ."},
	{"env rm -rf /", "[env] [rm] [-rf] [/] ."},
	{"command rm x", "[command] [rm] [x] ."},
	{"nohup rm x &", "[nohup] [rm] [x] &"},
	{"xargs rm < list", "[xargs] [rm] <[list] ."},
	{"! rm x", "! [rm] [x] ."},
	{"{ls,rm}", "[{ls,rm}]$+ ."},
	{"l{s,}", "[l{s,}]$+ ."},
	{"$'ls'", "[$'ls']$ ."},
	{"ls$IFS-la", "[ls$IFS-la]$+ ."},
	{"${PATH:0:1}bin/ls", "[${PATH:0:1}bin/ls]$+ ."},
	{"l\\s", "[ls] ."},
	{"'ls'", "[ls] ."},
	{"\"\"ls", "[ls] ."},
	{"ls ''-la", "[ls] [-la] ."},
	{"ls \"-la\"", "[ls] [-la] ."},
	{"echo $(( $(id) ))", "[echo] [$(( $(id) ))]$+ . ?1"},
	{"echo ${a}${b}", "[echo] [${a}${b}]$+ ."},
	{"echo \"${a}${b}\"", "[echo] [${a}${b}]$ ."},
	{"echo \"$a\" \"$b\"", "[echo] [$a]$ [$b]$ ."},
	{"echo $a$b", "[echo] [$a$b]$+ ."},
	{"printf '%s\\n' x", "[printf] [%s\\n] [x] ."},
	{"awk '{print $1}' f", "[awk] [{print $1}] [f] ."},
	{"awk '{system(\"rm x\")}' f", "[awk] [{system(\"rm x\")}] [f] ."},
	{"sed -n 1p f", "[sed] [-n] [1p] [f] ."},
	{"grep -r 'a|b' .", "[grep] [-r] [a|b] [.] ."},
	{"grep \"a;b\" f", "[grep] [a;b] [f] ."},
	{"tar xzf a.tgz", "[tar] [xzf] [a.tgz] ."},
	{"make -j4 test", "[make] [-j4] [test] ."},
	{"npm run build", "[npm] [run] [build] ."},
	{"git commit -m 'fix: x; y'", "[git] [commit] [-m] [fix: x; y] ."},
	{"git commit -m \"a && b\"", "[git] [commit] [-m] [a && b] ."},
	{"rm -rf -- \"$dir\"", "[rm] [-rf] [--] [$dir]$ ."},
	{"ls -la \"/work/my dir\"", "[ls] [-la] [/work/my dir] ."},
	{"cp a b && mv b c || echo failed", "[cp] [a] [b] && [mv] [b] [c] || [echo] [failed] ."},
	{"echo done;", "[echo] [done] ;"},
	{"echo done &", "[echo] [done] &"},
	{"true && false || echo x", "[true] && [false] || [echo] [x] ."},
};

/* Every case is tried, so one run shows all the mismatches. */
static void test_table(void **state)
{
	(void)state;
	size_t bad = 0;
	for (size_t i = 0; i < ZB_ARRAY_SIZE(cases); i++) {
		char *got = dump(cases[i].in);
		if (strcmp(got, cases[i].want) != 0) {
			fprintf(stderr, "case %zu: %s\n   want: %s\n    got: %s\n", i, cases[i].in,
				cases[i].want, got);
			bad++;
		}
		free(got);
	}
	assert_int_equal(bad, 0);
	assert_true(ZB_ARRAY_SIZE(cases) >= 300);
}

/* zb_sh_quote gives one literal word back, whatever the string. */
static void test_quote_roundtrip(void **state)
{
	(void)state;
	static const char *const words[] = {
		"ls",	    "a b",	"it's",	 "'",	  "''",	 "\"",	  "$HOME", "$(id)",
		"`id`",	    "*",	"**",	 "$",	  "a;b", "a&&b",  "a|b",   "x\ny",
		"~",	    "~root",	"FOO=1", "=x",	  "-la", "--x=y", "é",	   "\\",
		"a\\b",	    "{a,b}",	"[abc]", "?",	  "#x",	 "a#b",	  "",	   " ",
		"\t",	    "!",	"(",	 ")",	  "<",	 ">",	  "&",	   "\r",
		"ls\u00a0", "a\u202eb", "%s\\n", "x=y z", "@",	 "+",	  ",",	   "1>x"};
	for (size_t i = 0; i < ZB_ARRAY_SIZE(words); i++) {
		char *q = zb_sh_quote(words[i]);
		char *line = zb_xasprintf("cmd %s", q);
		struct zb_sh_script sc;
		zb_sh_split(line, strlen(line), &sc);
		assert_int_equal(sc.n_problems, 0);
		assert_int_equal(sc.n_cmds, 1);
		assert_int_equal(sc.cmds[0].n_words, 2);
		assert_int_equal(sc.cmds[0].n_redirs, 0);
		assert_string_equal(sc.cmds[0].words[1].text, words[i]);
		assert_false(sc.cmds[0].words[1].flags & ZB_SH_EXPANDS);
		zb_sh_script_clear(&sc);
		free(line);
		free(q);
	}
	char *plain = zb_sh_quote("git");
	assert_string_equal(plain, "git");
	free(plain);
	char *assign = zb_sh_quote("FOO=1");
	assert_string_equal(assign, "'FOO=1'");
	free(assign);
}

static void test_positions_and_inner(void **state)
{
	(void)state;
	const char *s = "ls -la; echo $(rm -rf /) && cat `id`";
	struct zb_sh_script sc;
	zb_sh_split(s, strlen(s), &sc);
	assert_int_equal(sc.n_cmds, 3);
	assert_int_equal(sc.cmds[0].start, 0);
	assert_int_equal(sc.cmds[0].end, 6);
	assert_int_equal(sc.cmds[1].start, 8);
	assert_int_equal(sc.cmds[1].words[1].offset, 13);
	assert_int_equal(sc.n_problems, 2);
	assert_true(sc.problems[0].has_inner);
	assert_int_equal(sc.problems[0].offset, 13);
	assert_memory_equal(s + sc.problems[0].inner, "rm -rf /", sc.problems[0].inner_len);
	assert_int_equal(sc.problems[0].inner_len, 8);
	assert_true(sc.problems[1].has_inner);
	assert_memory_equal(s + sc.problems[1].inner, "id", sc.problems[1].inner_len);
	assert_false(sc.stopped);
	zb_sh_script_clear(&sc);

	const char *sub = "ls; ( rm x )";
	zb_sh_split(sub, strlen(sub), &sc);
	assert_int_equal(sc.n_problems, 1);
	assert_true(sc.problems[0].has_inner);
	assert_memory_equal(sub + sc.problems[0].inner, " rm x ", sc.problems[0].inner_len);
	assert_true(sc.stopped);
	zb_sh_script_clear(&sc);
}

/* A NUL byte cannot reach sh (argv strings end at it): the splitter says so. */
static void test_nul(void **state)
{
	(void)state;
	static const char s[] = "ls\0; rm -rf /";
	struct zb_sh_script sc;
	zb_sh_split(s, sizeof(s) - 1, &sc);
	assert_true(sc.n_problems > 0);
	assert_true(sc.stopped);
	zb_sh_script_clear(&sc);
}

/* Hostile sizes: many commands, one huge word, deep nesting. Linear, no recursion. */
static void test_long_inputs(void **state)
{
	(void)state;
	size_t n = 100000;
	char *s = zb_xmalloc(n * 4 + 1);
	for (size_t i = 0; i < n; i++)
		memcpy(s + i * 4, "ls; ", 4);
	s[n * 4] = '\0';
	struct zb_sh_script sc;
	zb_sh_split(s, n * 4, &sc);
	assert_int_equal(sc.n_cmds, n);
	assert_int_equal(sc.n_problems, 0);
	zb_sh_script_clear(&sc);

	memset(s, 'a', n * 4);
	zb_sh_split(s, n * 4, &sc);
	assert_int_equal(sc.n_cmds, 1);
	assert_int_equal(strlen(sc.cmds[0].words[0].text), n * 4);
	zb_sh_script_clear(&sc);

	for (size_t i = 0; i < n * 2; i++)
		memcpy(s + i * 2, "$(", 2);
	zb_sh_split(s, n * 4, &sc);
	assert_true(sc.n_problems > 0);
	zb_sh_script_clear(&sc);

	memset(s, '(', n * 4);
	zb_sh_split(s, n * 4, &sc);
	assert_true(sc.n_problems > 0);
	assert_int_equal(sc.n_cmds, 0);
	zb_sh_script_clear(&sc);
	free(s);
}

/* Random strings of shell-significant bytes: never a crash or a leak (ASan build), and a
 * script without problems always ends its commands with a real separator. */
static void test_fuzz(void **state)
{
	(void)state;
	static const char alphabet[] = "ab $(){}[]<>|&;'\"`\\\n\t#*?~=!-0123456789\r";
	unsigned seed = 12345;
	char buf[64];
	for (int iter = 0; iter < 50000; iter++) {
		size_t len = (size_t)(rand_r(&seed) % 40);
		for (size_t i = 0; i < len; i++)
			buf[i] = alphabet[rand_r(&seed) % (sizeof(alphabet) - 1)];
		buf[len] = '\0';
		struct zb_sh_script sc;
		zb_sh_split(buf, len, &sc);
		if (sc.n_problems == 0) {
			assert_false(sc.stopped);
			for (size_t i = 0; i < sc.n_cmds; i++) {
				const char *sep = sc.cmds[i].sep;
				assert_true(strcmp(sep, ";") == 0 || strcmp(sep, "&") == 0 ||
					    strcmp(sep, "&&") == 0 || strcmp(sep, "||") == 0 ||
					    strcmp(sep, "|") == 0 || strcmp(sep, "\n") == 0 ||
					    (strcmp(sep, "") == 0 && i == sc.n_cmds - 1));
				assert_true(sc.cmds[i].n_words + sc.cmds[i].n_assigns +
						    sc.cmds[i].n_redirs >
					    0);
			}
		}
		zb_sh_script_clear(&sc);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_quote_roundtrip),
		cmocka_unit_test(test_positions_and_inner),
		cmocka_unit_test(test_nul),
		cmocka_unit_test(test_long_inputs),
		cmocka_unit_test(test_fuzz),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

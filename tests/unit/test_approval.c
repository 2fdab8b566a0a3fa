/* The approval layer's rules: how commands are judged (the matcher, the unwrapping of
 * wrappers, re-executors, interpreters, redirections, expansions; SECURITY-CASES 30), the
 * load-time checks of patterns and their examples, the learned file, --explain. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "server/approval.h"
#include "server/config.h"

#define ALLOW ZB_DECISION_ALLOW
#define ASK   ZB_DECISION_ASK
#define DENY  ZB_DECISION_DENY

#define HEAD                                                                                       \
	"sandbox:\n"                                                                               \
	"  backend: \"null\"\n"                                                                    \
	"  zones: [{name: work, mode: tmpfs, size: 1M}]\n"

static const char *const configs[] = {
	/* 0: a typical config: default ask, an allowlist, deny and ask rules. */
	HEAD "approval:\n"
	     "  default: ask\n"
	     "  rules:\n"
	     "    - allow: [ls, cat, echo, pwd, head, wc, grep, \"git status\", \"git diff\",\n"
	     "              \"git log\", sort, find, tree, uniq, rg, file, awk, sed, tar, date,\n"
	     "              \"make test $\", /usr/bin/stat, \"npm run build $\", cp]\n"
	     "    - deny: [rm, curl, wget, \"git push --force\"]\n"
	     "    - ask: [\"git push\"]\n",
	/* 1: default allow with deny rules. */
	HEAD "approval:\n"
	     "  default: allow\n"
	     "  rules:\n"
	     "    - deny: [rm, curl]\n",
	/* 2: default allow, no rules at all: nothing could be refused. */
	HEAD "approval: {default: allow}\n",
	/* 3: default deny. */
	HEAD "approval:\n"
	     "  default: deny\n"
	     "  rules: [{allow: [ls]}]\n",
	/* 4: a tool rule that asks for every shell command. */
	HEAD "approval:\n"
	     "  default: allow\n"
	     "  rules: [{allow: [ls]}]\n"
	     "  tools: {shell.run: ask}\n",
	/* 5: writes by redirection allowed through fs.write. */
	HEAD "approval:\n"
	     "  default: ask\n"
	     "  rules: [{allow: [ls, echo]}]\n"
	     "  tools: {fs.write: allow}\n",
	/* 6: rules for exact command texts. */
	HEAD "approval:\n"
	     "  default: ask\n"
	     "  rules:\n"
	     "    - allow: [\"ls | sh\", \"echo $(date)\", \"echo $HOME\", \"FOO=1 ls\"]\n"
	     "    - deny: [rm]\n",
	/* 7: wildcards and anchors. */
	HEAD "approval:\n"
	     "  default: ask\n"
	     "  rules:\n"
	     "    - allow: [\"git * --stat\", \"cp ** /work/out/\", \"docker run * $\",\n"
	     "              \"* --version\", \"ls '*'\", \"find . -name * -delete\"]\n"
	     "    - deny: [\"git push ** --force\"]\n"
	     "    - ask: [\"** --dangerous\"]\n",
	/* 8: shell.run denied as a tool. */
	HEAD "approval:\n"
	     "  default: allow\n"
	     "  tools: {shell.run: deny}\n",
};

struct jcase {
	int cfg;
	const char *cmd;
	enum zb_decision want;
};

static const struct jcase cases[] = {
	/* SECURITY-CASES 30: each sub-command judged, none slips through an ls rule. */
	{0, "ls", ALLOW},
	{0, "ls -la /work", ALLOW},
	{0, "ls; rm -rf /work", DENY},
	{0, "ls;rm -rf /work", DENY},
	{0, "ls && curl x", DENY},
	{0, "ls || curl x", DENY},
	{0, "ls & curl x", DENY},
	{0, "ls | sh", ASK},
	{0, "ls | bash -s", ASK},
	{0, "ls $(rm -rf /work)", DENY},
	{0, "ls \"$(rm -rf /work)\"", DENY},
	{0, "ls `rm -rf /work`", DENY},
	{0, "ls $(id)", ASK},
	{0, "ls `id`", ASK},
	{0, "ls $(echo $(curl x))", DENY},
	{0, "find . -exec rm {} \\;", DENY},
	{0, "find . -exec rm {} +", DENY},
	{0, "find . -execdir rm {} \\;", DENY},
	{0, "find . -ok rm {} \\;", DENY},
	{0, "find . -exec sh -c 'rm x' \\;", DENY},
	{0, "find . -exec cat {} \\;", ALLOW},
	{0, "find . -exec cp {} /tmp \\;", ALLOW},
	{0, "find . -exec id \\;", ASK},
	{0, "find . -name '*.c'", ALLOW},
	{0, "find . -name *.c", ASK},
	{0, "find . -delete", ASK},
	{0, "find . -fprint /work/x", ASK},
	{0, "env rm x", DENY},
	{0, "env ls", ALLOW},
	{0, "env -i ls", ALLOW},
	{0, "env -u HOME ls", ALLOW},
	{0, "env FOO=1 ls", ASK},
	{0, "env -S 'rm x'", ASK},
	{0, "env", ASK},
	{0, "git -c core.pager=evil log", ASK},
	{0, "git -ccore.pager=evil log", ASK},
	{0, "git --exec-path=/work log", ASK},
	{0, "git log", ALLOW},
	{0, "git log -p --stat", ALLOW},
	{0, "git log --output=/work/x", ASK},
	{0, "git log --output /work/x", ASK},
	{0, "git diff --ext-diff", ASK},
	{0, "git status -s", ALLOW},
	{0, "git push", ASK},
	{0, "git push origin main", ASK},
	{0, "git push --force origin", DENY},
	{0, "ls\nrm -rf /work", DENY},
	{0, "ls\n\nrm -rf /work\n", DENY},
	{0, "ls \\\n; rm x", DENY},
	{0, "ls\\;rm", ASK},
	{0, "ls ';' rm", ALLOW},
	{0, "ls \";\" rm -rf /", ALLOW},
	{0, "ls '&&' curl x", ALLOW},
	{0, "ls #; rm -rf /", ALLOW},
	{0, "ls # $(rm x)", ALLOW},
	{0, "ls a#b; rm x", DENY},
	{0, "ls\r", ASK},
	{0, "ls\r\nrm x", DENY},
	{0, "ls\xc2\xa0-la", ASK},
	{0, "ls\xe2\x80\xaerm", ASK},
	{0, "l\\s", ALLOW},
	{0, "'ls' -la", ALLOW},
	{0, "\"\"ls", ALLOW},
	/* Redirections: a write into a file is judged as a write. */
	{0, "ls 2>&1", ALLOW},
	{0, "ls 2>/dev/null", ALLOW},
	{0, "ls >/dev/null 2>&1", ALLOW},
	{0, "ls >&2", ALLOW},
	{0, "ls 3>&-", ALLOW},
	{0, "ls > /work/x", ASK},
	{0, "ls >> /work/x", ASK},
	{0, "ls >| /work/x", ASK},
	{0, "ls <> /work/x", ASK},
	{0, "ls > $OUT", ASK},
	{0, "ls < /etc/passwd", ALLOW},
	{0, "cat < x > /work/y", ASK},
	{0, "exec 3>/work/f", ASK},
	{0, "> /work/x", ASK},
	{0, "ls &> x", ASK},
	{0, "ls >& x", ASK},
	/* Here-documents: plain data, unless the body expands. */
	{0, "cat <<'EOF'\n$(rm -rf /)\nEOF", ALLOW},
	{0, "cat <<EOF\nplain text\nEOF", ALLOW},
	{0, "cat <<EOF\n$(rm -rf /)\nEOF", ASK},
	{0, "cat <<EOF\nx\nEOF\nrm x", DENY},
	{0, "cat <<EOF\nrm x\nEOF", ALLOW},
	{0, "cat <<EOF", ASK},
	{0, "cat <<< x", ASK},
	/* Wrappers are unwrapped; what they run is judged. */
	{0, "timeout 5 rm x", DENY},
	{0, "timeout 5 ls", ALLOW},
	{0, "timeout -s KILL 5 ls", ALLOW},
	{0, "timeout -k 1 --preserve-status 5s ls", ALLOW},
	{0, "timeout --weird 5 ls", ASK},
	{0, "timeout 5", ASK},
	{0, "nice -n 5 ls", ALLOW},
	{0, "nice -5 ls", ALLOW},
	{0, "nice ls", ALLOW},
	{0, "nice rm x", DENY},
	{0, "nohup ls", ALLOW},
	{0, "nohup rm x &", DENY},
	{0, "command ls", ALLOW},
	{0, "command -p rm x", DENY},
	{0, "exec ls", ALLOW},
	{0, "exec rm x", DENY},
	{0, "exec -a x rm", ASK},
	{0, "stdbuf -oL ls", ALLOW},
	{0, "setsid ls", ALLOW},
	{0, "setsid -f rm x", DENY},
	/* Options as getopt reads them: combined flags, glued or separate values. */
	{0, "timeout -vk5 10 rm x", DENY},
	{0, "timeout -vk 5 10 ls", ALLOW},
	{0, "timeout --kill-after 5 10 ls", ALLOW},
	{0, "timeout --kill-after=5 -- 10 rm x", DENY},
	{0, "timeout -vx 10 ls", ASK},
	{0, "nice -n5 rm x", DENY},
	{0, "nice --adjustment 5 ls", ALLOW},
	{0, "nice --5 ls", ASK},
	{0, "stdbuf -i0 -oL -e L rm x", DENY},
	{0, "stdbuf --output L ls", ALLOW},
	{0, "stdbuf -oL", ASK},
	{0, "setsid -cfw rm x", DENY},
	{0, "setsid --fork -- ls", ALLOW},
	{0, "setsid -x ls", ASK},
	{0, "nohup -- rm x", DENY},
	{0, "nohup -x ls", ASK},
	{0, "env -iv -u HOME - rm x", DENY},
	{0, "env -S 'rm x'", ASK},
	/* A value or DURATION the shell expands may be no word or several: every word after it
	 * moves, so what runs is not known (env -u $E ls rm x runs rm when E is empty). */
	{0, "env -u $E ls rm x", ASK},
	{0, "timeout [5z]* ls", ASK},
	{0, "timeout -s $S 5 ls", ASK},
	{0, "nice -n [5z]* ls", ASK},
	{0, "stdbuf -o [Lz]* ls", ASK},
	{0, "stdbuf --output $M ls", ASK},
	{0, "xargs -I $R ls", ASK},
	{0, "xargs --max-args $N ls", ASK},
	{0, "timeout -s KILL 5 ls", ALLOW},
	/* "-" ends env's options and is its own; after "--" the "-" is env's too. */
	{0, "env -i -- - rm x", DENY},
	{0, "env - -u x ls", ASK},
	{0, "env - ls", ALLOW},
	{0, "env -i - FOO=1 rm x", DENY},
	{0, "timeout 5 nice -n 1 env nohup ls", ALLOW},
	{0, "timeout 5 nice -n 1 env nohup rm x", DENY},
	{0, "/work/timeout 5 ls", ASK},
	{0, "/usr/bin/timeout 5 ls", ALLOW},
	/* xargs: the command it runs gets arguments nobody has seen. */
	{0, "xargs ls", ALLOW},
	{0, "cat f | xargs rm", DENY},
	{0, "xargs", ALLOW},
	{0, "xargs -0 -n1 echo", ALLOW},
	{0, "xargs -0 -P 4 -n 1 cat", ALLOW},
	{0, "xargs sort", ASK},
	{0, "xargs -I{} cp {} /x", ALLOW},
	{0, "xargs -I{} id {}", ASK},
	{0, "xargs --weird ls", ASK},
	{0, "xargs sh -c 'rm x'", DENY},
	/* Options that write files or run programs are sensitive. */
	{0, "sort f", ALLOW},
	{0, "sort -o /work/x f", ASK},
	{0, "sort -ro x f", ASK},
	{0, "sort -rox f", ASK},
	{0, "sort -k1 f", ALLOW},
	{0, "sort -k o f", ALLOW},
	{0, "sort f -o x", ASK},
	{0, "sort --output=x f", ASK},
	{0, "sort --compress-program=sh f", ASK},
	{0, "sort *", ASK},
	{0, "sort $F", ASK},
	{0, "sort \"$F\"", ASK},
	{0, "tree -o x", ASK},
	{0, "tree -L 2", ALLOW},
	{0, "uniq a", ALLOW},
	{0, "uniq -c a", ALLOW},
	{0, "uniq a b", ASK},
	{0, "rg --pre=sh x", ASK},
	{0, "rg --pre sh x", ASK},
	{0, "rg -n x", ALLOW},
	{0, "file -C -m x", ASK},
	{0, "file x", ALLOW},
	{0, "tar xzf a.tgz", ALLOW},
	{0, "tar --to-command=sh -xf a", ASK},
	{0, "tar -I zstd -xf a", ASK},
	{0, "tar xIf zstd a", ASK},
	{0, "awk '{print $1}' f", ALLOW},
	{0, "awk -F: '{print $1}' f", ALLOW},
	{0, "awk '{system(\"rm x\")}' f", ASK},
	{0, "awk '{print | \"sh\"}' f", ASK},
	{0, "awk '{print > \"x\"}' f", ASK},
	{0, "awk -f prog.awk f", ASK},
	{0, "awk -e '{print}' f", ALLOW},
	{0, "awk -l x '{print}' f", ASK},
	{0, "awk \"$PROG\" f", ASK},
	{0, "sed -n 1p f", ASK},
	{0, "sed --sandbox -n 1p f", ALLOW},
	{0, "sed --sandbox -e s/a/b/ f", ALLOW},
	{0, "sed -i s/a/b/ f", ASK},
	{0, "sed --sandbox -i s/a/b/ f", ASK},
	{0, "sed -e 1p f", ASK},
	/* Interpreters run code nobody judged. */
	{0, "sh -c ls", ASK},
	{0, "sh -c 'rm -rf /'", DENY},
	{0, "bash -ec \"ls; rm x\"", DENY},
	{0, "bash -c 'bash -c \"rm x\"'", DENY},
	{0, "bash script.sh", ASK},
	{0, "python3 -c 'print(1)'", ASK},
	{0, "python3.11 x.py", ASK},
	{0, "python3", ASK},
	{0, "perl -e 'unlink x'", ASK},
	{0, "node -e 1", ASK},
	{0, "busybox rm -rf /", ASK},
	{0, "sudo ls", ASK},
	{0, "ssh host ls", ASK},
	{0, "vim -c '!rm x' f", ASK},
	{0, "time ls", ASK},
	/* Builtins. */
	{0, "eval ls", ASK},
	{0, ". ./x", ASK},
	{0, "source x", ASK},
	{0, "trap 'rm x' EXIT", ASK},
	{0, "alias ls=rm; ls", ASK},
	{0, "export X=1; ls", ASK},
	{0, "set -e; ls", ALLOW},
	{0, "set -eu; ls", ALLOW},
	{0, "set -o pipefail; ls", ALLOW},
	{0, "set -euo pipefail; ls", ASK},
	{0, "set -a; ls", ASK},
	{0, "set -- a b", ASK},
	{0, "set", ASK},
	{0, "cd /work && ls", ALLOW},
	{0, "cd /work && rm x", DENY},
	{0, "true", ALLOW},
	{0, ": nothing", ALLOW},
	{0, "exit 1", ALLOW},
	{0, "X=1", ASK},
	{0, "X=1; ls", ASK},
	{0, "FOO=1 ls", ASK},
	{0, "FOO=1 rm x", DENY},
	{0, "PATH=/work ls", ASK},
	/* Structure the splitter does not judge. */
	{0, "(ls)", ASK},
	{0, "( rm x )", DENY},
	{0, "{ ls; }", ASK},
	{0, "if true; then ls; fi", ASK},
	{0, "for f in *; do ls; done", ASK},
	{0, "f() { ls; }", ASK},
	{0, "ls |& cat", ASK},
	{0, "diff <(ls) <(ls)", ASK},
	{0, "[[ -f x ]]", ASK},
	{0, "ls 'unterminated", ASK},
	{0, "; ls", ASK},
	{0, "ls &&", ASK},
	/* Names and paths. */
	{0, "/bin/ls", ALLOW},
	{0, "/usr/bin/ls -la", ALLOW},
	{0, "/usr/bin/stat x", ALLOW},
	{0, "stat x", ALLOW},
	{0, "/bin/stat x", ALLOW},
	{0, "/bin/rm x", DENY},
	{0, "/usr/bin/rm -rf /", DENY},
	{0, "/work/ls", ASK},
	{0, "./ls", ASK},
	{0, "bin/ls", ASK},
	{0, "/tmp/ls", ASK},
	{0, "/usr/bin/../bin/ls", ASK},
	{0, "/usr//bin/ls", ASK},
	{0, "/usr/./bin/ls", ASK},
	{0, "/usr/bin/nonexistent-zz", ASK},
	/* Anchors and prefixes. */
	{0, "make test", ALLOW},
	{0, "make test extra", ASK},
	{0, "make", ASK},
	{0, "make test $X", ASK},
	{0, "npm run build", ALLOW},
	{0, "npm run build --x", ASK},
	/* Expansions. */
	{0, "ls $HOME", ALLOW},
	{0, "ls *", ALLOW},
	{0, "ls ~", ALLOW},
	{0, "cat *.txt", ALLOW},
	{0, "$CMD", ASK},
	{0, "$CMD x", ASK},
	{0, "l$X", ASK},
	{0, "{ls,rm}", ASK},
	{0, "l{s,}", ASK},
	{0, "$'ls'", ASK},
	{0, "rm $X", DENY},
	{0, "git push $X", ASK},
	{0, "git $SUB", ASK},
	{0, "echo $(curl x)", DENY},
	{0, "echo `curl x`", DENY},
	{0, "echo ${x[$(rm x)]}", ASK},
	{0, "echo $((1+2))", ASK},
	/* Nothing to run. */
	{0, "", ALLOW},
	{0, "   ", ALLOW},
	{0, "# just a comment", ALLOW},
	{0, "\n\n", ALLOW},

	/* default allow with deny rules: hidden code asks, the rest runs. */
	{1, "ls", ALLOW},
	{1, "anything at all", ALLOW},
	{1, "rm x", DENY},
	{1, "ls; rm x", DENY},
	{1, "echo $(id)", ASK},
	{1, "echo $(rm x)", DENY},
	{1, "sh -c ls", ASK},
	{1, "sh -c 'rm x'", DENY},
	{1, "bash", ASK},
	{1, "FOO=1 ls", ASK},
	{1, "PATH=/work/bin:$PATH ls", ASK},
	{1, "FOO=1 rm x", DENY},
	{1, "env FOO=1 rm x", DENY},
	{1, "timeout 5 rm x", DENY},
	{1, "busybox rm x", ASK},
	{1, "ls > /work/x", ALLOW},
	{1, "find . -exec rm {} +", DENY},
	{1, "xargs rm", DENY},
	{1, "rm $X", DENY},
	{1, "curl$IFS-x", ASK},
	{1, "$X", ASK},
	{1, "(ls)", ASK},

	/* default allow and no rules: nothing could be refused, so nothing asks. */
	{2, "ls", ALLOW},
	{2, "rm -rf /work", ALLOW},
	{2, "echo $(rm x)", ALLOW},
	{2, "sh -c x", ALLOW},
	{2, "FOO=1 ls", ALLOW},
	{2, "if true; then ls; fi", ALLOW},
	{2, "ls > x", ALLOW},

	/* default deny. */
	{3, "ls", ALLOW},
	{3, "cat x", DENY},
	{3, "ls; cat x", DENY},
	{3, "$(ls)", DENY},
	{3, "echo $(ls)", DENY},
	{3, "ls > x", DENY},
	{3, "ls 2>/dev/null", ALLOW},

	/* approval.tools: shell.run: ask asks for everything. */
	{4, "ls", ASK},
	{4, "rm x", ASK},

	/* approval.tools: fs.write: allow lets redirections write. */
	{5, "ls > /work/x", ALLOW},
	{5, "echo hi >> /work/x", ALLOW},
	{5, "cat x > /work/y", ASK},

	/* Rules for exact texts. */
	{6, "ls | sh", ALLOW},
	{6, "  ls | sh  ", ALLOW},
	{6, "ls|sh", ASK},
	{6, "echo $(date)", ALLOW},
	{6, "echo $(date); rm x", DENY},
	{6, "echo $HOME", ALLOW},
	{6, "echo $HOME x", ALLOW},
	{6, "echo $USER", ASK},
	{6, "FOO=1 ls -la", ALLOW},
	{6, "FOO=2 ls", ASK},
	{6, "ls", ASK},

	/* Wildcards and anchors. */
	{7, "git log --stat", ALLOW},
	{7, "git diff --stat x", ALLOW},
	{7, "git log -p --stat", ASK},
	{7, "git --stat", ASK},
	{7, "git -c x=y --stat", ASK},
	{7, "cp a b /work/out/", ALLOW},
	{7, "cp /work/out/", ALLOW},
	{7, "cp a b /work/out/ c", ALLOW},
	{7, "cp a b /work/other/", ASK},
	/* $X might be --dangerous, which an ask rule names. */
	{7, "cp $X /work/out/", ASK},
	{7, "cp a b c d /work/out/", ALLOW},
	{7, "docker run x", ALLOW},
	{7, "docker run x y", ASK},
	{7, "docker run", ASK},
	{7, "docker run $X", ASK},
	{7, "docker run \"$X\"", ASK},
	{7, "docker run \"x y\"", ALLOW},
	{7, "python3 --version", ALLOW},
	{7, "ls '*'", ALLOW},
	{7, "ls \\*", ALLOW},
	{7, "ls *", ASK},
	{7, "find . -name x -delete", ALLOW},
	{7, "find . -name x -delete -print", ALLOW},
	{7, "find / -name x -delete", ASK},
	{7, "git push origin main --force", DENY},
	{7, "git push --force", DENY},
	{7, "git push origin", ASK},
	{7, "anything --dangerous", ASK},
	{7, "git log --stat --dangerous", ASK},

	/* The whole tool denied. */
	{8, "ls", DENY},
};

static struct zb_config *load(const char *yaml, struct zb_error **err)
{
	return zb_config_load_string(yaml, strlen(yaml), "t.yaml", "/tmp", err);
}

/* Every case is tried, so one run shows all the mismatches. */
static void test_judge_table(void **state)
{
	(void)state;
	struct zb_config *cfgs[ZB_ARRAY_SIZE(configs)];
	for (size_t i = 0; i < ZB_ARRAY_SIZE(configs); i++) {
		struct zb_error *err = NULL;
		cfgs[i] = load(configs[i], &err);
		if (!cfgs[i])
			fail_msg("config %zu: %s", i, err->msg);
	}
	size_t bad = 0;
	for (size_t i = 0; i < ZB_ARRAY_SIZE(cases); i++) {
		char *text = NULL;
		enum zb_decision d =
			zb_approval_judge_command(cfgs[cases[i].cfg], cases[i].cmd, &text);
		if (d != cases[i].want) {
			fprintf(stderr, "case %zu (config %d): want %s, got %s\n%s\n", i,
				cases[i].cfg, zb_decision_name(cases[i].want), zb_decision_name(d),
				text);
			bad++;
		}
		free(text);
	}
	for (size_t i = 0; i < ZB_ARRAY_SIZE(configs); i++)
		zb_config_free(cfgs[i]);
	assert_int_equal(bad, 0);
}

static void check_config_error(const char *yaml, const char *want)
{
	struct zb_error *err = NULL;
	struct zb_config *cfg = load(yaml, &err);
	if (cfg)
		fail_msg("loaded, but expected an error \"%s\"", want);
	if (!strstr(err->msg, want))
		fail_msg("error \"%s\" does not contain \"%s\"", err->msg, want);
	zb_error_free(err);
}

/* match:/not_match: examples and patterns are checked when the config loads. */
static void test_examples(void **state)
{
	(void)state;
	struct zb_error *err = NULL;
	struct zb_config *cfg =
		load("approval:\n"
		     "  rules:\n"
		     "    - allow: [\"git status\", \"git diff *\"]\n"
		     "      match: [\"git status -s\", \"git  status\", \"git diff x\",\n"
		     "              \"timeout 5 git status\"]\n"
		     "      not_match: [\"git push\", \"git diff\", \"rm x; git log\",\n"
		     "                  \"git -c x=y status\"]\n"
		     "    - deny: [\"rm -rf /\"]\n"
		     "      match: [\"rm -rf / x\", \"ls; rm -rf /\", \"echo $(rm -rf /)\"]\n"
		     "      not_match: [\"rm -rf /work\", \"ls\"]\n"
		     "    - allow: [\"ls | sh\"]\n"
		     "      match: [\"ls | sh\"]\n"
		     "      not_match: [\"ls|sh\"]\n"
		     "  tools: {shell.run: allow}\n",
		     &err);
	if (!cfg)
		fail_msg("%s", err->msg);
	zb_config_free(cfg);

	check_config_error("approval:\n"
			   "  rules:\n"
			   "    - allow: [ls]\n"
			   "    - deny: [\"rm -rf /\"]\n"
			   "      match: [\"rm -rf /work\"]\n",
			   "t.yaml:4:7: approval.rules[1]: the example \"rm -rf /work\" does not "
			   "match the rule, but is listed under match");
	check_config_error("approval:\n"
			   "  rules:\n"
			   "    - allow: [\"git *\"]\n"
			   "      not_match: [\"git push\"]\n",
			   "t.yaml:3:7: approval.rules[0]: the example \"git push\" matches the "
			   "rule, but is listed under not_match");
	check_config_error("approval:\n  rules:\n    - allow: [\" \"]\n",
			   "t.yaml:3:7: approval.rules[0]: pattern \" \": an empty pattern");
	check_config_error("approval:\n  rules:\n    - {allow: [ls]}\n    - allow: [\"$\"]\n",
			   "t.yaml:4:7: approval.rules[1]: pattern \"$\": a pattern of only");
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* The learned file is loaded with the config; its mistakes point into it. */
static void test_learned_file(void **state)
{
	(void)state;
	char dir[] = "/tmp/zb-approval-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char *learned = zb_xasprintf("%s/learned.yaml", dir);
	const char *yaml = HEAD "approval:\n"
				"  default: ask\n"
				"  learned: learned.yaml\n";
	struct zb_error *err = NULL;

	/* Missing: no rules yet. */
	struct zb_config *cfg = zb_config_load_string(yaml, strlen(yaml), "t.yaml", dir, &err);
	assert_non_null(cfg);
	assert_int_equal(cfg->approval.n_learned_rules, 0);
	char *text = NULL;
	assert_int_equal(zb_approval_judge_command(cfg, "git push origin main", &text), ASK);
	free(text);
	zb_config_free(cfg);

	write_file(learned, "approval:\n"
			    "  rules:\n"
			    "    - allow: [\"git push origin main $\"]\n"
			    "    - deny: [curl]\n");
	cfg = zb_config_load_string(yaml, strlen(yaml), "t.yaml", dir, &err);
	assert_non_null(cfg);
	assert_int_equal(cfg->approval.n_learned_rules, 2);
	assert_int_equal(zb_approval_judge_command(cfg, "git push origin main", &text), ALLOW);
	assert_non_null(strstr(text, "learned approval.rules[0]"));
	assert_non_null(strstr(text, "learned.yaml:3:7"));
	free(text);
	assert_int_equal(zb_approval_judge_command(cfg, "git push origin main x", &text), ASK);
	free(text);
	assert_int_equal(zb_approval_judge_command(cfg, "curl x", &text), DENY);
	free(text);
	zb_config_free(cfg);

	write_file(learned, "approval:\n  rules:\n    - allow: [\"ok\"]\n    - alow: [x]\n");
	cfg = zb_config_load_string(yaml, strlen(yaml), "t.yaml", dir, &err);
	assert_null(cfg);
	assert_non_null(strstr(err->msg, "learned.yaml:4:7: approval.rules[1]: unknown key"));
	zb_error_free(err);
	err = NULL;

	write_file(learned, "sandbox: {}\n");
	cfg = zb_config_load_string(yaml, strlen(yaml), "t.yaml", dir, &err);
	assert_null(cfg);
	assert_non_null(strstr(err->msg, "learned.yaml:1:1: the learned file: unknown key"));
	zb_error_free(err);

	unlink(learned);
	rmdir(dir);
	free(learned);
}

/* --explain: every sub-command, the rule behind it, and what a person would see. */
static void test_explain(void **state)
{
	(void)state;
	struct zb_error *err = NULL;
	struct zb_config *cfg = load(configs[0], &err);
	assert_non_null(cfg);
	char *t = zb_approval_explain(cfg, "ls -la; rm -rf /work | timeout 5 cat x");
	assert_non_null(strstr(t, "1. command: ls -la\n     allowed by approval.rules[0] "
				  "(t.yaml:7:7): allow \"ls\""));
	assert_non_null(strstr(t, "2. command: rm -rf /work\n     denied by approval.rules[1] "
				  "(t.yaml:10:7): deny \"rm\""));
	assert_non_null(strstr(t, "judged as: cat x"));
	assert_non_null(strstr(t, "verdict: deny"));
	free(t);
	t = zb_approval_explain(cfg, "ls\r; echo \xe2\x80\xae");
	assert_non_null(strstr(t, "ls\\x0d"));
	assert_non_null(strstr(t, "\\u{202e}"));
	assert_null(strchr(t, '\r'));
	free(t);
	t = zb_approval_explain(cfg, "curl$IFS-x");
	assert_non_null(strstr(t, "verdict: ask"));
	assert_non_null(strstr(t, "no approver is configured"));
	free(t);
	t = zb_approval_explain(cfg, "ls > /work/out");
	assert_non_null(strstr(t, "redirection: >/work/out"));
	assert_non_null(strstr(t, "a redirection into a file is a write"));
	free(t);
	zb_config_free(cfg);
}

static void test_secret_names(void **state)
{
	(void)state;
	assert_true(zb_approval_secret_name("GITHUB_TOKEN"));
	assert_true(zb_approval_secret_name("aws_secret_access_key"));
	assert_true(zb_approval_secret_name("DB_PASSWORD"));
	assert_true(zb_approval_secret_name("API_KEY"));
	assert_true(zb_approval_secret_name("SESSION_COOKIE"));
	assert_false(zb_approval_secret_name("PATH"));
	assert_false(zb_approval_secret_name("HOME"));
	assert_false(zb_approval_secret_name("PWD"));
	assert_false(zb_approval_secret_name("LANG"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_judge_table),  cmocka_unit_test(test_examples),
		cmocka_unit_test(test_learned_file), cmocka_unit_test(test_explain),
		cmocka_unit_test(test_secret_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

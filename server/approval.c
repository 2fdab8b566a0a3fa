/* A first, conservative approval layer: argv-prefix rules with `*` for one word, deny beats
 * ask beats allow. Until the full shell splitter lands, a command string with any shell
 * syntax (pipes, lists, substitutions, quotes, redirections, globs, variables) cannot be
 * judged word by word and so is treated as "ask"; and since no approver exists yet, "ask"
 * means refused with a message that says how to allow it. This can refuse too much, never
 * too little. */
#include "approval.h"

#include "tools/tools.h"

/* Any of these makes a string more than a list of plain words to sh. */
static const char shell_syntax[] = "|&;<>()$`\\\"'*?[]#~=%{}!\n\r\t";

struct words {
	char **v;
	size_t n;
};

static void words_free(struct words *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(w->v[i]);
	free(w->v);
	w->v = NULL;
	w->n = 0;
}

static void split_words(const char *s, struct words *w)
{
	while (*s) {
		while (*s == ' ')
			s++;
		if (!*s)
			break;
		const char *e = s;
		while (*e && *e != ' ')
			e++;
		w->v = zb_xrealloc(w->v, (w->n + 1) * sizeof(*w->v));
		w->v[w->n++] = zb_xstrndup(s, (size_t)(e - s));
		s = e;
	}
}

/* The pattern's words are a prefix of argv; "*" stands for exactly one word. */
static bool pattern_matches(const char *pattern, const struct words *argv)
{
	struct words p = {0};
	split_words(pattern, &p);
	bool ok = p.n > 0 && p.n <= argv->n;
	for (size_t i = 0; ok && i < p.n; i++)
		ok = strcmp(p.v[i], "*") == 0 || strcmp(p.v[i], argv->v[i]) == 0;
	words_free(&p);
	return ok;
}

int zb_approval_check(struct zb_server *srv, const struct zb_tool_call *call, const char **ret_rule,
		      struct zb_error **err)
{
	const struct zb_config *cfg = zb_server_config(srv);
	*ret_rule = NULL;
	if (strcmp(call->tool->name, "shell.run") != 0)
		return 0;

	const json_t *command = json_object_get(call->args, "command");
	const json_t *argv_j = json_object_get(call->args, "argv");
	struct words argv = {0};
	bool judgeable = true;
	const char *shown;
	if (command) {
		shown = json_string_value(command);
		judgeable = strpbrk(shown, shell_syntax) == NULL;
		if (judgeable)
			split_words(shown, &argv);
	} else {
		shown = json_string_value(json_array_get(argv_j, 0));
		for (size_t i = 0; i < json_array_size(argv_j); i++) {
			argv.v = zb_xrealloc(argv.v, (argv.n + 1) * sizeof(*argv.v));
			argv.v[argv.n++] = zb_xstrdup(json_string_value(json_array_get(argv_j, i)));
		}
	}

	enum zb_decision decision = cfg->approval.default_decision;
	const char *rule = NULL;
	if (!judgeable) {
		/* Unjudgeable text could hide any command, so it may only pass where no rule
		 * restricts anything: default allow and no deny or ask rule at all. */
		bool restricted = false;
		for (size_t i = 0; i < cfg->approval.n_rules; i++)
			restricted |= cfg->approval.rules[i].decision != ZB_DECISION_ALLOW;
		if (decision != ZB_DECISION_DENY && (decision != ZB_DECISION_ALLOW || restricted))
			decision = ZB_DECISION_ASK;
	} else {
		bool matched[3] = {false, false, false};
		const char *which[3] = {NULL, NULL, NULL};
		for (size_t i = 0; i < cfg->approval.n_rules; i++) {
			const struct zb_rule *r = &cfg->approval.rules[i];
			for (size_t k = 0; k < r->n_patterns; k++)
				if (pattern_matches(r->patterns[k], &argv) &&
				    !matched[r->decision]) {
					matched[r->decision] = true;
					which[r->decision] = r->patterns[k];
				}
		}
		for (int d = ZB_DECISION_DENY; d >= ZB_DECISION_ALLOW; d--)
			if (matched[d]) {
				decision = (enum zb_decision)d;
				rule = which[d];
				break;
			}
	}
	words_free(&argv);
	*ret_rule = rule;

	switch (decision) {
	case ZB_DECISION_ALLOW:
		return 0;
	case ZB_DECISION_DENY:
		return zb_error_set(err, ZB_ERR_TOOL, 0,
				    "denied by the approval rules%s%s%s: this command may not run "
				    "here. Do not retry it; ask the user if it is needed.",
				    rule ? " (rule \"" : "", rule ? rule : "", rule ? "\")" : "");
	case ZB_DECISION_ASK:
	default:
		return zb_error_set(
			err, ZB_ERR_TOOL, 0,
			"needs approval, and no approver is available in this build, so it was "
			"not run. %s To allow it, the user adds a rule to the config, e.g. "
			"`approval: {rules: [{allow: [\"%s\"]}]}`, or sets approval.default: "
			"allow.",
			judgeable ? "No allow rule matches it."
				  : "It uses shell syntax (pipes, lists, quotes, substitutions, "
				    "redirections or globs) that is judged only by a human; run a "
				    "plain "
				    "command, or use argv.",
			shown);
	}
}

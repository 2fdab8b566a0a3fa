/* The approval layer (DESIGN.md "Approval"): is this call allowed to run? Rules decide what
 * they can; what they leave to a human goes to an approver (approver.h); every decision is
 * described for the model, the human and the audit log. */
#pragma once

#include <stdio.h>

#include "config.h"
#include "error.h"

struct zb_server;
struct zb_tool_call;

/* What was decided for one call and by whom, for the audit log. */
struct zb_verdict {
	bool judged; /* false until the approval layer has looked at the call */
	bool allowed;
	const char *by; /* "rule", "default", "approver", "elicitation", "none" (nobody could be
			   asked), or "error"; static */
	char *rule;	/* the rules (or default) behind the decision, as text, or NULL */
	char *approver; /* who answered an "ask", or NULL */
	char *reason;	/* the approver's reason, or why nobody could answer, or NULL */
};
void zb_verdict_clear(struct zb_verdict *v);

/* Load-time checks (called by the config loader): every pattern of approval.rules and of the
 * learned file compiles, and every rule's match:/not_match: examples hold. A failure is a
 * config error "file:line:column: ...". */
int zb_approval_check_config(const struct zb_config *cfg, struct zb_error **err);

/* `zonebox --explain CMD`: how `cfg` judges a shell.run command and why, as text to print. */
char *zb_approval_explain(const struct zb_config *cfg, const char *command);

/* The per-server state: compiled rules (the config's, the learned file's, and those learned
 * in this session), the approvers, the questions waiting for an answer. */
struct zb_approval;
struct zb_approval *zb_approval_new(struct zb_server *srv);
/* Stop the approvers (their processes are killed, their handles closed). Questions still
 * waiting must have been withdrawn already (the server cancels every call first). */
void zb_approval_shutdown(struct zb_approval *a);
void zb_approval_free(struct zb_approval *a);

/* Judge a call, asking an approver when the rules say "ask". done(call, NULL) when it may
 * run, done(call, err) (err owned by the callee, kind ZB_ERR_TOOL, a message that tells the
 * model and the user how to allow it) when not. done runs exactly once, from this call or
 * a later loop iteration; while it waits, call->cancel is set, so a cancelled call withdraws
 * its question and gets done(call, "cancelled"). *verdict (owned by the caller, alive until
 * done has run) is filled in for the audit log. */
typedef void (*zb_approved_fn)(struct zb_tool_call *call, struct zb_error *err);
void zb_approval_begin(struct zb_approval *a, struct zb_tool_call *call, struct zb_verdict *verdict,
		       zb_approved_fn done);

/* Environment variable names that look like they hold secrets (…TOKEN, …KEY, PASSWORD, …):
 * their values are masked in questions and in the audit log. */
bool zb_approval_secret_name(const char *name);

/* For tests: how the rules alone (no approver) judge a shell command, a decision and the
 * explanation text (owned by the caller). */
enum zb_decision zb_approval_judge_command(const struct zb_config *cfg, const char *command,
					   char **ret_text);

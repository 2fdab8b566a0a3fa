/* Approvers: who answers when the rules say "ask" (approval.approver in the config).
 *   {command: [...]}  an external program, started once on the server's loop and restarted
 *                     after it dies, fed one JSON question per line on its stdin and
 *                     answering one JSON line per question on its stdout;
 *   elicitation       the MCP client asks its user (elicitation/create), when the client
 *                     declared the capability.
 * The first approver that is available gets the question. This module only carries
 * questions and answers; approval.c decides what they mean and owns the timeout. */
#pragma once

#include <jansson.h>

#include "config.h"

struct zb_server;
struct zb_approvers;
struct zb_ask;

enum zb_answer {
	ZB_ANSWER_ALLOW_ONCE,
	ZB_ANSWER_ALLOW_ALWAYS,
	ZB_ANSWER_DENY,
	ZB_ANSWER_FAILED, /* the approver crashed, answered garbage, or could not ask */
};

/* `who` names the approver ("zonebox-approve", "the client (elicitation)"); `reason` is the
 * approver's reason or what went wrong, may be NULL. Both borrowed. */
typedef void (*zb_answer_fn)(void *ud, enum zb_answer answer, const char *who, const char *reason);

struct zb_approvers *zb_approvers_new(struct zb_server *srv);
/* Kill the approver processes and close their handles; pending asks must be withdrawn. */
void zb_approvers_shutdown(struct zb_approvers *ap);
void zb_approvers_free(struct zb_approvers *ap);

/* Ask the first available approver. `question` (borrowed) is the JSON line for a command
 * approver and must carry a string "id"; `message` is the text a person reads (elicitation).
 * On success *ret is a handle and fn runs later, exactly once unless withdrawn. When no
 * approver is available, returns -1 and *ret_why (owned by the caller) says why. */
int zb_approvers_ask(struct zb_approvers *ap, const json_t *question, const char *message,
		     zb_answer_fn fn, void *ud, struct zb_ask **ret, char **ret_why);
/* Withdraw a question: fn will not run. A command approver is told {"id", "cancel": why}, so
 * that it can take its prompt down. */
void zb_ask_withdraw(struct zb_ask *ask, const char *why);
/* The name of the approver the question went to (borrowed). */
const char *zb_ask_who(const struct zb_ask *ask);

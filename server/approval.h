/* The approval layer (DESIGN.md "Approval"): is this call allowed to run? */
#pragma once

#include "error.h"
#include "mcp.h"

struct zb_tool_call;

/* 0: allowed (*ret_rule names the rule that allowed it, borrowed, or NULL for the default).
 * -1: refused, *err (ZB_ERR_TOOL) says why and how to allow it. */
int zb_approval_check(struct zb_server *srv, const struct zb_tool_call *call, const char **ret_rule,
		      struct zb_error **err);

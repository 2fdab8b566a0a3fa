/* fs.* tools. Until the fs issue lands, each answers with a clear "not implemented yet", so a
 * model knows to use shell.run instead; the dispatch, argument validation and result shape
 * around them are real. */
#include "tools.h"

void zb_tool_fs(struct zb_tool_call *call)
{
	struct zb_error *err = NULL;
	zb_error_set(&err, ZB_ERR_TOOL, 0,
		     "%s is not implemented yet in this build of zonebox; use shell.run (for "
		     "example `cat`, `ls -la`, `find`) on the same /<zone> paths meanwhile",
		     call->tool->name);
	zb_tool_call_fail(call, err, NULL);
}

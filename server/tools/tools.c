#include "tools.h"

#include <string.h>

/* The order here is the order of tools/list: stable across runs and versions. */
static const struct zb_tool tools[] = {
	{"shell.run", "tools/shell.run.json", zb_tool_shell_run},
	{"fs.read", "tools/fs.read.json", zb_tool_fs},
	{"fs.write", "tools/fs.write.json", zb_tool_fs},
	{"fs.edit", "tools/fs.edit.json", zb_tool_fs},
	{"fs.list", "tools/fs.list.json", zb_tool_fs},
	{"fs.stat", "tools/fs.stat.json", zb_tool_fs},
	{"fs.mkdir", "tools/fs.mkdir.json", zb_tool_fs},
	{"fs.move", "tools/fs.move.json", zb_tool_fs},
	{"fs.delete", "tools/fs.delete.json", zb_tool_fs},
	{"fs.search", "tools/fs.search.json", zb_tool_fs},
	{"fs.zones", "tools/fs.zones.json", zb_tool_fs},
};

const struct zb_tool *zb_tools_all(size_t *ret_n)
{
	*ret_n = ZB_ARRAY_SIZE(tools);
	return tools;
}

const struct zb_tool *zb_tool_find(const char *name)
{
	for (size_t i = 0; i < ZB_ARRAY_SIZE(tools); i++) {
		const char *t = tools[i].name;
		size_t n = strlen(t);
		if (strlen(name) != n)
			continue;
		/* Many clients reject dots in tool names, so "fs_read" is always accepted too. */
		bool same = true;
		for (size_t k = 0; k < n && same; k++)
			same = name[k] == t[k] || (t[k] == '.' && name[k] == '_');
		if (same)
			return &tools[i];
	}
	return NULL;
}

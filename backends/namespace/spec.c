/* The spec message (proto.h) -> struct sb_spec, with the checks that keep a zone from landing
 * on top of the sandbox's own folders or a protect path from escaping its zone. */
#include "helper.h"

#include <string.h>

static const char *const reserved[] = {"bin",  "dev",  "etc", "lib", "lib32", "lib64", "libx32",
				       "proc", "sbin", "sys", "tmp", "usr",   "run",   NULL};

static bool zone_name_ok(const char *name)
{
	if (!name[0] || name[0] == '.' || strlen(name) > 64)
		return false;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.'))
			return false;
	for (size_t i = 0; reserved[i]; i++)
		if (strcmp(name, reserved[i]) == 0)
			return false;
	return true;
}

/* A protect path must stay inside its zone: relative, no "..". It also comes canonical (the
 * server stores it so): no "." and no empty component, so that mounts.c, which walks it one
 * component at a time, takes its last component for the protected file or folder itself. */
static bool protect_ok(const char *p)
{
	if (!p[0] || p[0] == '/' || strlen(p) > 1024)
		return false;
	for (const char *s = p;; s++) {
		const char *e = strchrnul(s, '/');
		size_t n = (size_t)(e - s);
		if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
			return false;
		if (!*e)
			return true;
		s = e;
	}
}

static int parse_zone(json_t *z, struct sb_zone *out, struct zb_error **err)
{
	const char *name = NULL, *mode = NULL, *host = NULL;
	json_int_t size = 0;
	json_t *protect = NULL;
	json_error_t je;
	if (json_unpack_ex(z, &je, JSON_STRICT, "{s:s, s:s, s?s, s?I, s?o}", "name", &name, "mode",
			   &mode, "host_path", &host, "size", &size, "protect", &protect) < 0)
		return zb_error_set(err, ZB_ERR_INTERNAL, 0, "bad zone in spec: %s", je.text);
	if (!zone_name_ok(name))
		return zb_error_set(err, ZB_ERR_INTERNAL, 0,
				    "zone name '%s' cannot be used: it must be letters, digits, "
				    "'-', '_' or '.', and not a system folder such as /usr or /tmp",
				    name);
	out->name = zb_xstrdup(name);
	if (strcmp(mode, "ro") == 0)
		out->mode = SB_ZONE_RO;
	else if (strcmp(mode, "rw") == 0)
		out->mode = SB_ZONE_RW;
	else if (strcmp(mode, "tmpfs") == 0)
		out->mode = SB_ZONE_TMPFS;
	else
		return zb_error_set(err, ZB_ERR_INTERNAL, 0, "zone %s: unknown mode '%s'", name,
				    mode);
	if (out->mode != SB_ZONE_TMPFS && (!host || host[0] != '/'))
		return zb_error_set(err, ZB_ERR_INTERNAL, 0,
				    "zone %s: host_path must be an absolute path", name);
	out->host_path = host ? zb_xstrdup(host) : NULL;
	out->size = size > 0 ? (uint64_t)size : 0;
	if (protect) {
		if (!json_is_array(protect))
			return zb_error_set(err, ZB_ERR_INTERNAL, 0,
					    "zone %s: protect must be an array", name);
		out->protect = zb_xcalloc(json_array_size(protect) + 1, sizeof(char *));
		size_t i;
		json_t *p;
		json_array_foreach(protect, i, p)
		{
			if (!json_is_string(p) || !protect_ok(json_string_value(p)))
				return zb_error_set(err, ZB_ERR_INTERNAL, 0,
						    "zone %s: protect path #%zu must be a relative "
						    "path inside the zone without '.', '..' or "
						    "empty parts",
						    name, i + 1);
			out->protect[out->n_protect++] = zb_xstrdup(json_string_value(p));
		}
	}
	return 0;
}

int sb_spec_parse(const json_t *msg, struct sb_spec *spec, struct zb_error **err)
{
	const char *type = NULL, *network = "none", *hostname = "zonebox", *rootfs = NULL;
	json_int_t uid = 0, gid = 0, memory = 0, pids = 0, fsize = 0, nofile = 0;
	double cpu = 0;
	int userns = 0, persistent = 0;
	json_t *zones = NULL, *limits = NULL;
	json_error_t je;

	memset(spec, 0, sizeof(*spec));
	if (json_unpack_ex((json_t *)msg, &je, JSON_STRICT,
			   "{s:s, s:I, s:I, s:b, s:b, s?s, s?s, s?s, s:o, s?o}", "type", &type,
			   "uid", &uid, "gid", &gid, "userns", &userns, "persistent", &persistent,
			   "network", &network, "hostname", &hostname, "rootfs", &rootfs, "zones",
			   &zones, "limits", &limits) < 0)
		return zb_error_set(err, ZB_ERR_INTERNAL, 0, "bad spec: %s", je.text);
	if (strcmp(type, "spec") != 0)
		return zb_error_set(err, ZB_ERR_INTERNAL, 0, "expected a spec, got '%s'", type);
	if (limits &&
	    json_unpack_ex(limits, &je, JSON_STRICT, "{s?I, s?I, s?F, s?I, s?I}", "memory", &memory,
			   "pids", &pids, "cpu", &cpu, "fsize", &fsize, "nofile", &nofile) < 0)
		return zb_error_set(err, ZB_ERR_INTERNAL, 0, "bad limits in spec: %s", je.text);
	if (strcmp(network, "none") != 0 && strcmp(network, "host") != 0)
		return zb_error_set(err, ZB_ERR_INTERNAL, 0,
				    "network '%s' is not supported by the namespace backend "
				    "(use none or host)",
				    network);
	if (rootfs && rootfs[0] != '/')
		return zb_error_set(err, ZB_ERR_INTERNAL, 0, "rootfs must be an absolute path");
	if (!json_is_array(zones))
		return zb_error_set(err, ZB_ERR_INTERNAL, 0, "zones must be an array");

	spec->uid = (uid_t)uid;
	spec->gid = (gid_t)gid;
	spec->userns = userns;
	spec->persistent = persistent;
	spec->net_host = strcmp(network, "host") == 0;
	spec->hostname = zb_xstrdup(hostname);
	spec->rootfs = rootfs ? zb_xstrdup(rootfs) : NULL;
	spec->memory = memory > 0 ? (uint64_t)memory : 0;
	spec->pids = pids > 0 ? (uint64_t)pids : 0;
	spec->cpu = cpu > 0 ? cpu : 0;
	spec->fsize = fsize > 0 ? (uint64_t)fsize : 0;
	spec->nofile = nofile > 0 ? (uint64_t)nofile : 0;
	spec->zones = zb_xcalloc(json_array_size(zones) + 1, sizeof(*spec->zones));
	size_t i;
	json_t *z;
	json_array_foreach(zones, i, z)
	{
		if (parse_zone(z, &spec->zones[spec->n_zones++], err) < 0)
			return -1;
		for (size_t k = 0; k + 1 < spec->n_zones; k++)
			if (strcmp(spec->zones[k].name, spec->zones[i].name) == 0)
				return zb_error_set(err, ZB_ERR_INTERNAL, 0,
						    "zone %s is given twice", spec->zones[k].name);
	}
	return 0;
}

void sb_spec_clear(struct sb_spec *spec)
{
	for (size_t i = 0; i < spec->n_zones; i++) {
		struct sb_zone *z = &spec->zones[i];
		free(z->name);
		free(z->host_path);
		for (size_t k = 0; k < z->n_protect; k++)
			free(z->protect[k]);
		free(z->protect);
	}
	free(spec->zones);
	free(spec->hostname);
	free(spec->rootfs);
	memset(spec, 0, sizeof(*spec));
}

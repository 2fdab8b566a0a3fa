/* The static registry of backends compiled into this build. */
#include "backend.h"

#include "zb-build.h"

extern const struct zb_backend zb_backend_null;
#if ZB_HAVE_NAMESPACE_DRIVER
extern const struct zb_backend zb_backend_namespace;
#endif

static const struct zb_backend *const backends[] = {
#if ZB_HAVE_NAMESPACE_DRIVER
	&zb_backend_namespace,
#endif
	&zb_backend_null,
};

static const char *const *names_table(void)
{
	static const char *names[ZB_ARRAY_SIZE(backends) + 1];
	for (size_t i = 0; i < ZB_ARRAY_SIZE(backends); i++)
		names[i] = backends[i]->name;
	return names;
}

const struct zb_backend *zb_backend_find(const char *name)
{
	for (size_t i = 0; name && i < ZB_ARRAY_SIZE(backends); i++)
		if (strcmp(backends[i]->name, name) == 0)
			return backends[i];
	return NULL;
}

const char *const *zb_backend_names(void)
{
	return names_table();
}

void zb_exit_clear(struct zb_exit *e)
{
	free(e->error);
	*e = (struct zb_exit){0};
}

/* placeholder */ typedef int zb_placeholder_t;

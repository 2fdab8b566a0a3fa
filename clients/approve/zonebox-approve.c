/* zonebox-approve: the bundled human approver. zonebox starts it once (approval.approver:
 * {command: [zonebox-approve]}) and writes one JSON question per line on its stdin; it
 * shows each question on the controlling terminal (/dev/tty, so it works while an IDE owns
 * zonebox's stdin and stdout), reads y / a / n, and writes one JSON answer per line on its
 * stdout:
 *   {"id": "q1", "decision": "allow_once" | "allow_always" | "deny", "reason": "..."}
 * A line {"id": "q1", "cancel": "timeout"} takes a question back (zonebox stopped waiting).
 * Without a terminal, every question is answered "deny" with the reason "no terminal".
 *
 * What is shown is what runs: control characters, bidirectional overrides and invisible
 * characters are printed as escapes, so a command cannot disguise itself on the screen
 * (`ls\rrm -rf x` would otherwise print as "rm -rf x" over "ls"). */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define MAX_LINE (16u << 20)

struct queue {
	json_t **q;
	size_t n;
};

static int tty = -1;
static json_t *current; /* the question on screen */
static char *line_buf;	/* partial input from stdin */
static size_t line_len;
static char answer_buf[256]; /* partial input from the terminal */
static size_t answer_len;

/* ---------------------------------------------------------------- output */

static void answer(const char *id, const char *decision, const char *reason)
{
	json_t *a = json_pack("{s:s, s:s}", "id", id, "decision", decision);
	if (reason)
		json_object_set_new(a, "reason", json_string(reason));
	char *s = json_dumps(a, JSON_COMPACT);
	printf("%s\n", s);
	fflush(stdout);
	free(s);
	json_decref(a);
}

static void tty_write(const char *s)
{
	size_t n = strlen(s);
	while (n > 0) {
		ssize_t w = write(tty, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

/* Everything a person must see as it is, escaped where a terminal would hide or reorder it. */
static void tty_printable(const char *s)
{
	size_t len = strlen(s);
	char *out = malloc(len * 10 + 1), *o = out;
	if (!out)
		abort();
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)s[i];
		size_t seq = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
		if (c == '\n') {
			o += sprintf(o, "\\n");
			i++;
			continue;
		}
		if (c < 0x20 || c == 0x7f) {
			o += sprintf(o, "\\x%02x", c);
			i++;
			continue;
		}
		if (seq == 1) {
			*o++ = (char)c;
			i++;
			continue;
		}
		bool ok = seq > 0 && i + seq <= len;
		for (size_t k = 1; ok && k < seq; k++)
			ok = ((unsigned char)s[i + k] & 0xc0) == 0x80;
		if (!ok) {
			o += sprintf(o, "\\x%02x", c);
			i++;
			continue;
		}
		uint32_t cp = seq == 2 ? (c & 0x1f) : seq == 3 ? (c & 0x0f) : (c & 0x07);
		for (size_t k = 1; k < seq; k++)
			cp = (cp << 6) | ((unsigned char)s[i + k] & 0x3f);
		bool hide = (cp >= 0x80 && cp <= 0x9f) || cp == 0xa0 || cp == 0xad ||
			    (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202e) ||
			    (cp >= 0x2060 && cp <= 0x2069) || cp == 0xfeff ||
			    (cp >= 0xfff9 && cp <= 0xfffb) || (cp >= 0xe0000 && cp <= 0xe007f);
		if (hide) {
			o += sprintf(o, "\\u{%04x}", cp);
		} else {
			memcpy(o, s + i, seq);
			o += seq;
		}
		i += seq;
	}
	*o = '\0';
	tty_write(out);
	free(out);
}

static void shell_words(const json_t *argv)
{
	size_t i;
	json_t *w;
	json_array_foreach(argv, i, w)
	{
		const char *s = json_string_value(w);
		if (i)
			tty_write(" ");
		bool plain = *s && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					     "0123456789_./:@%+,=-") == strlen(s);
		if (!plain)
			tty_write("'");
		tty_printable(s);
		if (!plain)
			tty_write("'");
	}
}

static void show(const json_t *q)
{
	const char *id = json_string_value(json_object_get(q, "id"));
	const char *tool = json_string_value(json_object_get(q, "tool"));
	const json_t *command = json_object_get(q, "command");
	const json_t *argv = json_object_get(q, "argv");
	tty_write("\n\033[1mzonebox: approval needed\033[0m (");
	tty_printable(id ? id : "?");
	tty_write(")\n  tool:      ");
	tty_printable(tool ? tool : "?");
	if (json_is_string(command)) {
		tty_write("\n  command:   ");
		tty_printable(json_string_value(command));
	} else if (json_is_array(argv)) {
		tty_write("\n  argv:      ");
		shell_words(argv);
	}
	const json_t *args = json_object_get(q, "arguments");
	if (args) {
		char *s = json_dumps(args, JSON_COMPACT);
		tty_write("\n  arguments: ");
		tty_printable(s);
		free(s);
	}
	const json_t *cwd = json_object_get(q, "cwd");
	if (json_is_string(cwd)) {
		tty_write("\n  folder:    ");
		tty_printable(json_string_value(cwd));
	}
	const json_t *env = json_object_get(q, "env");
	if (json_object_size(env) > 0) {
		tty_write("\n  env:      ");
		const char *k;
		json_t *v;
		json_object_foreach((json_t *)env, k, v)
		{
			tty_write(" ");
			tty_printable(k);
			tty_write("=");
			tty_printable(json_is_string(v) ? json_string_value(v) : "?");
		}
	}
	size_t i;
	json_t *a;
	json_array_foreach(json_object_get(q, "asks"), i, a)
	{
		tty_write(i ? "\n             " : "\n  why:       ");
		tty_printable(json_string_value(json_object_get(a, "command")) ?: "");
		tty_write(" -- ");
		tty_printable(json_string_value(json_object_get(a, "why")) ?: "");
	}
	tty_write("\n  reaches:   ");
	json_array_foreach(json_object_get(q, "zones"), i, a)
	{
		if (i)
			tty_write(", ");
		tty_printable(json_string_value(json_object_get(a, "path")) ?: "?");
		tty_write(" (");
		tty_printable(json_string_value(json_object_get(a, "mode")) ?: "?");
		tty_write(")");
	}
	const json_t *net = json_object_get(q, "network");
	tty_write("; network: ");
	if (json_is_string(net))
		tty_printable(json_string_value(net));
	else {
		char *s = json_dumps(net, JSON_COMPACT);
		tty_printable(s ? s : "?");
		free(s);
	}
	json_int_t ms = json_integer_value(json_object_get(q, "timeout_ms"));
	char buf[160];
	bool always = !json_is_false(json_object_get(q, "always_possible"));
	if (ms > 0)
		snprintf(buf, sizeof(buf),
			 "\nAllow? [y] once%s  [n] no (default)  (within %lld s): ",
			 always ? "  [a] always" : "", (long long)(ms + 999) / 1000);
	else
		snprintf(buf, sizeof(buf),
			 "\nAllow? [y] once%s  [n] no (default): ", always ? "  [a] always" : "");
	tty_write(buf);
}

/* ---------------------------------------------------------------- the queue */

static void push(struct queue *qu, json_t *q)
{
	qu->q = realloc(qu->q, (qu->n + 1) * sizeof(*qu->q));
	if (!qu->q)
		abort();
	qu->q[qu->n++] = q;
}

static json_t *pop(struct queue *qu)
{
	if (qu->n == 0)
		return NULL;
	json_t *q = qu->q[0];
	memmove(qu->q, qu->q + 1, (qu->n - 1) * sizeof(*qu->q));
	qu->n--;
	return q;
}

static void drop(struct queue *qu, const char *id)
{
	for (size_t i = 0; i < qu->n; i++)
		if (strcmp(json_string_value(json_object_get(qu->q[i], "id")), id) == 0) {
			json_decref(qu->q[i]);
			memmove(qu->q + i, qu->q + i + 1, (qu->n - i - 1) * sizeof(*qu->q));
			qu->n--;
			return;
		}
}

static void next_question(struct queue *qu)
{
	while (!current && qu->n > 0) {
		current = pop(qu);
		if (tty < 0) {
			answer(json_string_value(json_object_get(current, "id")), "deny",
			       "no terminal: zonebox-approve could not open /dev/tty to ask a "
			       "person");
			json_decref(current);
			current = NULL;
			continue;
		}
		tcflush(tty, TCIFLUSH); /* keys typed before the question do not answer it */
		answer_len = 0;
		show(current);
	}
}

static void on_message(struct queue *qu, const char *line, size_t len)
{
	json_error_t je;
	json_t *m = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
	const char *id = json_string_value(json_object_get(m, "id"));
	if (!json_is_object(m) || !id) {
		fprintf(stderr, "zonebox-approve: ignoring a line that is not a question: %s\n",
			m ? "no id" : je.text);
		json_decref(m);
		return;
	}
	const char *cancel = json_string_value(json_object_get(m, "cancel"));
	if (cancel) {
		if (current && strcmp(json_string_value(json_object_get(current, "id")), id) == 0) {
			tty_write("\n(zonebox withdrew this question: ");
			tty_printable(cancel);
			tty_write(")\n");
			json_decref(current);
			current = NULL;
		} else {
			drop(qu, id);
		}
		json_decref(m);
		return;
	}
	push(qu, m);
}

static void on_key_line(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	const char *id = json_string_value(json_object_get(current, "id"));
	bool always = !json_is_false(json_object_get(current, "always_possible"));
	if (*s == 'y' || *s == 'Y') {
		answer(id, "allow_once", "allowed at the terminal");
	} else if ((*s == 'a' || *s == 'A') && always) {
		answer(id, "allow_always", "allowed always at the terminal");
	} else if (*s == 'n' || *s == 'N' || *s == '\0' || *s == '\n') {
		answer(id, "deny", "denied at the terminal");
	} else {
		tty_write(always ? "Please answer y, a or n: " : "Please answer y or n: ");
		return;
	}
	tty_write("\n");
	json_decref(current);
	current = NULL;
}

int main(int argc, char **argv)
{
	if (argc > 1) {
		fprintf(stderr, "%s",
			"usage: zonebox-approve\n"
			"The human approver of zonebox: it reads questions (JSON lines) on stdin, "
			"asks on the\nterminal (/dev/tty), and writes answers (JSON lines) on "
			"stdout. Configure it with\n  approval: {approver: {command: "
			"[zonebox-approve]}}\n");
		return strcmp(argv[1], "--help") == 0 ? 0 : 2;
	}
	tty = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	struct queue qu = {0};
	bool in_open = true;
	while (in_open || current || qu.n) {
		next_question(&qu);
		if (!in_open && !current)
			break;
		struct pollfd fds[2] = {{.fd = in_open ? STDIN_FILENO : -1, .events = POLLIN},
					{.fd = current ? tty : -1, .events = POLLIN}};
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		if (fds[0].revents) {
			char buf[65536];
			ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				in_open = false; /* zonebox stopped: nobody waits for answers */
				break;
			}
			line_buf = realloc(line_buf, line_len + (size_t)n + 1);
			if (!line_buf)
				abort();
			memcpy(line_buf + line_len, buf, (size_t)n);
			line_len += (size_t)n;
			char *nl;
			while ((nl = memchr(line_buf, '\n', line_len))) {
				size_t l = (size_t)(nl - line_buf);
				on_message(&qu, line_buf, l);
				memmove(line_buf, nl + 1, line_len - l - 1);
				line_len -= l + 1;
			}
			if (line_len > MAX_LINE)
				line_len = 0;
		}
		if (current && fds[1].revents) {
			char c;
			ssize_t n = read(tty, &c, 1);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				answer(json_string_value(json_object_get(current, "id")), "deny",
				       "the terminal closed");
				json_decref(current);
				current = NULL;
				close(tty);
				tty = -1;
				continue;
			}
			if (c == '\n' || answer_len + 1 >= sizeof(answer_buf)) {
				answer_buf[answer_len] = '\0';
				answer_len = 0;
				on_key_line(answer_buf);
			} else {
				answer_buf[answer_len++] = c;
			}
		}
	}
	free(line_buf);
	free(qu.q);
	return 0;
}

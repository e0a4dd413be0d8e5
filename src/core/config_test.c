/* Unit tests for core/config: the parser, its messages and the defaults. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "test.h"

static char dir[] = "/tmp/posthorn-config-test.XXXXXX";

/* Writes text as a config file and loads it. */
static struct config *load(const char *text, char *err, size_t err_size)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/posthorn.conf", dir);
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	err[0] = '\0';
	return config_load(path, err, err_size);
}

TEST(defaults_and_relative_paths)
{
	char err[512];
	struct config *cfg = load("# nothing but comments\n\n   \n", err, sizeof(err));
	CHECK(cfg != NULL);
	if (cfg == NULL)
		return;
	CHECK_INT(cfg->max_message_size, 50 * 1024 * 1024);
	CHECK_INT(cfg->smtp_timeout, 300);
	CHECK_INT(cfg->listener_count, 0);
	char want[300];
	snprintf(want, sizeof(want), "%s/data", dir);
	CHECK_STR(cfg->data_dir, want);
	CHECK_STR(cfg->log_file, "-");
	CHECK(cfg->hostname != NULL && cfg->hostname[0] != '\0');
	config_free(&cfg);
	CHECK(cfg == NULL);
}

TEST(values)
{
	char err[512];
	struct config *cfg = load("hostname mx.example.org   # trailing comment\n"
				  "max_message_size 10M\nsmtp_timeout 2m\nmax_recipients 7\n"
				  "allow_plaintext_loopback yes\nlog_level debug\ndata_dir /var/lib/posthorn\n"
				  "tls_cert c.pem\ntls_key k.pem\n"
				  "listen smtp 127.0.0.1:25\nlisten imaps [::1]:993\nlisten submission *:587\n",
				  err, sizeof(err));
	CHECK(cfg != NULL);
	if (cfg == NULL) {
		printf("error: %s\n", err);
		return;
	}
	CHECK_STR(cfg->hostname, "mx.example.org");
	CHECK_INT(cfg->max_message_size, 10 * 1024 * 1024);
	CHECK_INT(cfg->smtp_timeout, 120);
	CHECK_INT(cfg->max_recipients, 7);
	CHECK(cfg->allow_plaintext_loopback);
	CHECK_INT(cfg->log_level, LOG_LEVEL_DEBUG);
	CHECK_STR(cfg->data_dir, "/var/lib/posthorn");
	CHECK_INT(cfg->listener_count, 4); /* * gives IPv4 and IPv6 */
	CHECK_INT(cfg->listeners[0].kind, LISTENER_SMTP);
	CHECK_INT(cfg->listeners[1].kind, LISTENER_IMAPS);
	CHECK_INT(cfg->listeners[1].addr.ss_family, AF_INET6);
	CHECK_INT(cfg->listeners[2].addr.ss_family, AF_INET);
	CHECK_INT(cfg->listeners[3].addr.ss_family, AF_INET6);
	CHECK_INT(cfg->listeners[3].line, 12);
	config_free(&cfg);
}

/* Every mistake names the line and what is wrong. */
TEST(errors)
{
	static const struct {
		const char *text;
		const char *want; /* substring of the message */
	} cases[] = {
		{"bogus 1\n", "posthorn.conf:1: unknown setting \"bogus\""},
		{"\n\nmax_mesage_size 1\n", ":3: unknown setting \"max_mesage_size\" (did you mean \"max_message_size\"?)"},
		{"max_errors\n", ":1: max_errors needs a value"},
		{"max_errors -1\n", "expected a whole number"},
		{"max_errors 99999999999999999999999\n", "expected a whole number"},
		{"max_message_size 5X\n", "expected a size"},
		{"smtp_timeout forever\n", "expected a duration"},
		{"allow_plaintext_loopback maybe\n", "expected yes or no"},
		{"log_level chatty\n", "expected debug, info, warn or error"},
		{"hostname a\nhostname b\n", ":2: hostname is set twice"},
		{"listen smtp\n", ":1: expected: listen KIND ADDRESS:PORT"},
		{"listen pop4 127.0.0.1:110\n", "unknown listener kind"},
		{"listen smtp 127.0.0.1:0\n", "bad port"},
		{"listen smtp 127.0.0.1:65536\n", "bad port"},
		{"listen smtp 300.0.0.1:25\n", "bad IPv4 address"},
		{"listen smtp ::1:25\n", "bad IPv4 address (write IPv6 addresses in brackets"},
		{"listen smtp [::g]:25\n", "bad IPv6 address"},
		{"listen smtp 127.0.0.1:25\nlisten submission 127.0.0.1:25\n", ":2: listen submission 127.0.0.1:25: this address and port is already used"},
		{"listen smtp 127.0.0.1:25\n", "tls_cert and tls_key are not"},
		{"smtp_max_line 100\n", "smtp_max_line must be at least 512"},
		{"max_recipients 0\n", "must be at least 1"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[512];
		struct config *cfg = load(cases[i].text, err, sizeof(err));
		CHECK(cfg == NULL);
		if (strstr(err, cases[i].want) == NULL) {
			test_failures++;
			printf("FAIL errors: case %zu: got \"%s\", want \"%s\"\n", i, err, cases[i].want);
		}
		config_free(&cfg);
	}
}

TEST(long_line)
{
	char text[6000];
	memset(text, 'x', sizeof(text) - 2);
	text[sizeof(text) - 2] = '\n';
	text[sizeof(text) - 1] = '\0';
	char err[512];
	struct config *cfg = load(text, err, sizeof(err));
	CHECK(cfg == NULL);
	CHECK(strstr(err, ":1: line too long") != NULL);
}

TEST(missing_file)
{
	char err[512];
	struct config *cfg = config_load("/nonexistent/posthorn.conf", err, sizeof(err));
	CHECK(cfg == NULL);
	CHECK(strstr(err, "No such file") != NULL && strstr(err, "posthorn init") != NULL);
}

int main(void)
{
	if (mkdtemp(dir) == NULL)
		return 1;
	RUN(defaults_and_relative_paths);
	RUN(values);
	RUN(errors);
	RUN(long_line);
	RUN(missing_file);
	char path[256];
	snprintf(path, sizeof(path), "%s/posthorn.conf", dir);
	unlink(path);
	rmdir(dir);
	return test_done();
}

/* posthorn dns DOMAIN: every DNS record a local domain needs, in zone-file
 * form: MX (this server), SPF, DKIM (from its keys), DMARC, the SRV records
 * of RFC 6186 that let mail clients find submission, IMAP and POP3, and the
 * autoconfig/autodiscover names. Ports come from the listeners in the
 * config; a service without a listener is published as "not offered"
 * (target "."), as RFC 6186 3 asks. */
#include <string.h>

#include "cli/cli.h"
#include "core/config.h"

static const char usage[] = "usage: posthorn dns DOMAIN   the DNS records to publish for DOMAIN\n"
			    "options: -c FILE  the config file\n";

/* The port of the first listener of kind, or 0. */
static unsigned listener_port(const struct config *cfg, enum listener_kind kind)
{
	for (size_t i = 0; i < cfg->listener_count; i++) {
		const struct config_listener *l = &cfg->listeners[i];
		if (l->kind != kind)
			continue;
		const char *colon = strrchr(l->text, ':');
		unsigned port = 0;
		for (const char *p = colon ? colon + 1 : ""; *p >= '0' && *p <= '9'; p++)
			port = port * 10 + (unsigned)(*p - '0');
		return port;
	}
	return 0;
}

static void srv(const struct config *cfg, const char *domain, const char *service, enum listener_kind kind)
{
	char name[512];
	snprintf(name, sizeof(name), "_%s._tcp.%s.", service, domain);
	unsigned port = listener_port(cfg, kind);
	if (port)
		printf("%-40s 3600 IN SRV   0 1 %u %s.\n", name, port, cfg->hostname);
	else
		printf("%-40s 3600 IN SRV   0 0 0 .\n", name);
}

int cli_main_dns(int argc, char **argv)
{
	struct cli cli = {0};
	int help = cli_common_opts(&argc, argv, &cli);
	if (help != 0 || argc != 2) {
		fputs(usage, help == 1 ? stdout : stderr);
		return help == 1 ? 0 : 2;
	}
	const char *domain = argv[1];
	if (cli_open(&cli, true) < 0)
		return 1;
	const char *error;
	int local = store_domain_exists(cli.store, domain, &error);
	if (local <= 0) {
		cli_error("%s is not a local domain%s%s", domain, local < 0 ? ": " : "",
			  local < 0 ? error : "");
		cli_close(&cli);
		return 1;
	}
	const struct config *cfg = cli.cfg;
	const char *host = cfg->hostname;
	char name[512];
	printf("; DNS records for %s, to publish at its DNS provider.\n", domain);
	printf("; This server is %s (hostname in %s).\n;\n", host, cli.config_path);
	printf("; Mail for %s goes to this server:\n", domain);
	snprintf(name, sizeof(name), "%s.", domain);
	printf("%-40s 3600 IN MX    10 %s.\n", name, host);
	printf("; %s. needs A and AAAA records with this server's public addresses, and\n", host);
	printf("; each address a PTR record back to %s (receivers check it).\n", host);
	printf(";\n; SPF (RFC 7208): only the MX hosts send mail for %s; HELO checks for the host.\n",
	       domain);
	printf("%-40s 3600 IN TXT   \"v=spf1 mx ~all\"\n", name);
	snprintf(name, sizeof(name), "%s.", host);
	printf("%-40s 3600 IN TXT   \"v=spf1 a -all\"\n", name);
	printf(";\n; DKIM (RFC 6376): the public keys of the signing keys.\n");
	int keys = cli_dkim_records(cfg, domain, stdout);
	if (keys == 0)
		printf("; (no keys yet: run `posthorn dkim keygen %s`, then print this again)\n", domain);
	printf(";\n; DMARC (RFC 7489): receivers quarantine mail that fails SPF and DKIM alignment;\n");
	printf("; reports go to postmaster (make it an alias).\n");
	snprintf(name, sizeof(name), "_dmarc.%s.", domain);
	printf("%-40s 3600 IN TXT   \"v=DMARC1; p=quarantine; rua=mailto:postmaster@%s\"\n", name, domain);
	printf(";\n; Client configuration (RFC 6186 SRV; \"0 0 0 .\" = not offered).\n");
	srv(cfg, domain, "submissions", LISTENER_SUBMISSIONS);
	srv(cfg, domain, "submission", LISTENER_SUBMISSION);
	srv(cfg, domain, "imaps", LISTENER_IMAPS);
	srv(cfg, domain, "imap", LISTENER_IMAP);
	srv(cfg, domain, "pop3s", LISTENER_POP3S);
	srv(cfg, domain, "pop3", LISTENER_POP3);
	printf("; Thunderbird (autoconfig) and Outlook (autodiscover) look these names up.\n");
	snprintf(name, sizeof(name), "autoconfig.%s.", domain);
	printf("%-40s 3600 IN CNAME %s.\n", name, host);
	snprintf(name, sizeof(name), "autodiscover.%s.", domain);
	printf("%-40s 3600 IN CNAME %s.\n", name, host);
	snprintf(name, sizeof(name), "_autodiscover._tcp.%s.", domain);
	unsigned https = listener_port(cfg, LISTENER_HTTPS);
	if (https)
		printf("%-40s 3600 IN SRV   0 1 %u %s.\n", name, https, host);
	else
		printf("%-40s 3600 IN SRV   0 0 0 .\n", name);
	cli_close(&cli);
	return keys < 0 ? 1 : 0;
}

/* p2pquic: the command-line tool. Subcommands live in their own files. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* Address discovery and port mapping (stun.c, whoami.c, portmap.c). */
int p2pq_cli_stun(int argc, char **argv);
int p2pq_cli_whoami(int argc, char **argv);
int p2pq_cli_portmap(int argc, char **argv);

static const char usage_main[] =
    "usage: p2pquic COMMAND [OPTIONS]\n"
    "\n"
    "commands:\n"
    "  serve   serve files over QUIC (HTTP/3 and hq-interop)\n"
    "  fetch   download https://HOST:PORT/path URLs over one QUIC connection\n"
    "  keygen  make an Ed25519 key and print its fingerprint\n"
    "  stun    our public address from STUN servers, and the NAT's mapping type\n"
    "  whoami  our public address as a p2pquic server sees it (QUIC address discovery)\n"
    "  portmap open a UDP port on the router (PCP, NAT-PMP, UPnP IGD)\n"
    "  help    show this text, or 'p2pquic help COMMAND' for one command\n";

static const char usage_serve[] =
    "usage: p2pquic serve --root DIR --listen ADDR:PORT [--cert FILE --key FILE]\n"
    "                     [--retry] [--qlog DIR] [-v]\n"
    "\n"
    "Serves the files under DIR over HTTP/3 (h3) and hq-interop: a client sends\n"
    "\"GET /path\" on a stream and receives the file's bytes. Paths with \"..\" are\n"
    "refused; missing files get the stream reset.\n"
    "\n"
    "  --root DIR          directory to serve (required)\n"
    "  --listen ADDR:PORT  address to bind, e.g. 127.0.0.1:4433 or [::]:4433 (port 0:\n"
    "                      any free port; the chosen one is printed). Repeat it to\n"
    "                      listen on several (IPv6 sockets are v6-only)\n"
    "  --cert FILE         X.509 certificate chain (PEM); needs --key\n"
    "  --key FILE          private key (PEM); alone it is used as an RFC 7250 raw\n"
    "                      public key. Without --cert/--key an ephemeral self-signed\n"
    "                      certificate is made. The fingerprint clients pin is printed.\n"
    "  --retry             validate client addresses with a Retry first\n"
    "  --qlog DIR          write one qlog (.sqlog) file per connection into DIR\n"
    "  -v                  print connection events\n"
    "SSLKEYLOGFILE=FILE    append TLS secrets for Wireshark\n";

static const char usage_fetch[] =
    "usage: p2pquic fetch URL... -o PATH (--pin FINGERPRINT | --insecure | --ca FILE)\n"
    "                     [--alpn h3|hq-interop] [--timeout SECONDS] [--key-update N]\n"
    "                     [--qlog DIR] [-v]\n"
    "\n"
    "Downloads every URL over one QUIC connection (all must name the same server).\n"
    "URL is https://HOST[:PORT]/path with HOST an IP address ([v6] in brackets) or\n"
    "localhost; the port defaults to 443.\n"
    "\n"
    "  -o PATH             output file for one URL ('-' for stdout), or a directory\n"
    "                      (created if missing) that gets each URL's last path part\n"
    "  --pin FINGERPRINT   accept only the server key with this fingerprint\n"
    "                      (\"sha256:...\", as printed by 'p2pquic serve')\n"
    "  --insecure          accept any server key (testing only)\n"
    "  --ca FILE           verify an X.509 chain against these CA certificates\n"
    "  --alpn NAME         h3 or hq-interop (default: offer both, h3 first)\n"
    "  --timeout SECONDS   give up when the handshake takes longer (default 10)\n"
    "  --key-update N      start a key update (RFC 9001 6) every N packets\n"
    "  --qlog DIR          write the connection's qlog (.sqlog) into DIR\n"
    "  -v                  print connection events\n"
    "A progress line is shown on a terminal; a summary line always ends the run.\n";

static const char usage_keygen[] =
    "usage: p2pquic keygen -o FILE [--force]\n"
    "\n"
    "Writes a new Ed25519 private key (PKCS#8 PEM, mode 0600) to FILE and prints\n"
    "its fingerprint (sha256:...), which clients pass to --pin. Use it with\n"
    "'p2pquic serve --key FILE'. --force overwrites an existing FILE.\n";

void p2pq_cli_usage(const char *topic) {
  if (topic != NULL && strcmp(topic, "serve") == 0)
    fputs(usage_serve, stdout);
  else if (topic != NULL && strcmp(topic, "fetch") == 0)
    fputs(usage_fetch, stdout);
  else if (topic != NULL && strcmp(topic, "keygen") == 0)
    fputs(usage_keygen, stdout);
  else
    fputs(usage_main, stdout);
}

int main(int argc, char **argv) {
  const char *cmd = argc > 1 ? argv[1] : NULL;
  if (cmd == NULL) {
    fputs(usage_main, stderr);
    return P2PQ_CLI_USAGE;
  }
  if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
    static char help_arg[] = "--help";
    char *help_argv[] = {argc > 2 ? argv[2] : NULL, help_arg, NULL};
    if (argc > 2 && strcmp(argv[2], "stun") == 0)
      return p2pq_cli_stun(2, help_argv);
    if (argc > 2 && strcmp(argv[2], "whoami") == 0)
      return p2pq_cli_whoami(2, help_argv);
    if (argc > 2 && strcmp(argv[2], "portmap") == 0)
      return p2pq_cli_portmap(2, help_argv);
    if (argc > 2 && strcmp(argv[2], "serve") != 0 && strcmp(argv[2], "fetch") != 0 &&
        strcmp(argv[2], "keygen") != 0)
      return p2pq_cli_usage_err(NULL, "no help for '%s': it is not a command", argv[2]);
    p2pq_cli_usage(argc > 2 ? argv[2] : NULL);
    return P2PQ_CLI_OK;
  }
  if (strcmp(cmd, "serve") == 0)
    return p2pq_cli_serve(argc - 1, argv + 1);
  if (strcmp(cmd, "fetch") == 0)
    return p2pq_cli_fetch(argc - 1, argv + 1);
  if (strcmp(cmd, "keygen") == 0)
    return p2pq_cli_keygen(argc - 1, argv + 1);
  if (strcmp(cmd, "stun") == 0)
    return p2pq_cli_stun(argc - 1, argv + 1);
  if (strcmp(cmd, "whoami") == 0)
    return p2pq_cli_whoami(argc - 1, argv + 1);
  if (strcmp(cmd, "portmap") == 0)
    return p2pq_cli_portmap(argc - 1, argv + 1);
  return p2pq_cli_usage_err(NULL, "unknown command '%s' (commands: serve, fetch, keygen, stun, "
                                  "whoami, portmap, help)", cmd);
}

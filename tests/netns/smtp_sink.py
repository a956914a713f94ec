"""An aiosmtpd handler for the e-mail alert tests (tests/netns_smtp.rs).

Run as `python3 -m aiosmtpd -n -l ADDR:PORT -c smtp_sink.Store DIR`: every
message aiosmtpd accepts is written to DIR/N.eml as received (after the
DATA dot-unstuffing), preceded by an envelope block the test reads:
`PEER address`, `HELO name`, `MAIL FROM addr`, one `RCPT TO addr` per recipient, then a
blank line. Files are written under a temporary name and renamed, so a
reader never sees half a message.
"""

import itertools
import os


class Store:
    def __init__(self, directory):
        self.dir = directory
        self.seq = itertools.count(1)

    @classmethod
    def from_cli(cls, parser, *args):
        # aiosmtpd hands the handler's command-line arguments here.
        if len(args) != 1:
            parser.error("smtp_sink.Store needs one argument: the directory")
        return cls(args[0])

    async def handle_DATA(self, server, session, envelope):
        head = ["PEER %s" % session.peer[0], "HELO %s" % session.host_name, "MAIL FROM %s" % envelope.mail_from]
        head += ["RCPT TO %s" % r for r in envelope.rcpt_tos]
        n = next(self.seq)
        tmp = os.path.join(self.dir, ".%d.tmp" % n)
        with open(tmp, "wb") as f:
            f.write(("\n".join(head) + "\n\n").encode())
            f.write(envelope.original_content)
        os.rename(tmp, os.path.join(self.dir, "%d.eml" % n))
        return "250 OK"

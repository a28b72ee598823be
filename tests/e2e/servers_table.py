#!/usr/bin/python3
"""
Prints the Markdown table of examples/SERVERS.md from what the *_sends
e2e tests measured (webservers.record_sends: one JSON file per server,
configuration and place, each request made over HTTP and over HTTPS):

    FW_E2E_MEASURE_DIR=/tmp/measured /usr/bin/python3 -m pytest -q \\
        -p no:cacheprovider tests/e2e -k sends
    /usr/bin/python3 tests/e2e/servers_table.py /tmp/measured
"""

import json
import sys
from pathlib import Path

COLUMNS = ('SCRIPT_NAME', 'PATH_INFO', 'REQUEST_URI', 'HTTPS',
           'HTTP_AUTHORIZATION')
ORDER = ('nginx', 'Apache', 'lighttpd', 'Caddy', 'H2O')


def cell(value):
    if value is None:
        return '(not sent)'
    if value == '':
        return '`""`'
    return '`%s`' % value.replace('|', '\\|')


def sort_key(entry):
    server = entry['server'].split()[0]
    rank = ORDER.index(server) if server in ORDER else len(ORDER)
    return (rank, entry['config'], entry['where'] != '/')


def main(argv):
    if len(argv) != 2:
        sys.stderr.write(__doc__)
        return 2
    entries = [json.loads(p.read_text())
               for p in sorted(Path(argv[1]).glob('*.json'))]
    if not entries:
        sys.stderr.write('no measurements in %s\n' % argv[1])
        return 1
    print('| Server | Configuration | Request | '
          + ' | '.join(c if c != 'HTTPS' else 'HTTPS (http / https)'
                       for c in COLUMNS)
          + ' | CONTENT_LENGTH of a chunked POST |')
    print('|' + '---|' * (4 + len(COLUMNS)))
    for e in sorted(entries, key=sort_key):
        cells = []
        for key in COLUMNS:
            text = cell(e['sent'].get(key))
            tls = e.get('sent_over_https')
            if key == 'HTTPS':
                text += ' / ' + (cell(tls.get(key)) if tls else 'not measured')
            elif tls and tls.get(key) != e['sent'].get(key):
                text += ' (https: %s)' % cell(tls.get(key))
            cells.append(text)
        posted = e.get('chunked_post')
        cells.append(cell(posted['CONTENT_LENGTH']) if posted else '?')
        print('| %s | %s | `%s` | %s |' % (
            e['server'], e['config'], e['request'], ' | '.join(cells)))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))

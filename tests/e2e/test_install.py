"""
Packaging: `make install DESTDIR=... PREFIX=...` into a temp dir (the tree,
the installed binary's --help, the man page rendered by `man -l` naming
every option --help names, the template unit checked by systemd-analyze,
the logrotate snippet read by logrotate, the example ini's keys all
options), and `make deb`: a .deb that lintian passes without an error and
that holds the same files.
"""

import configparser
import os
import re
import shutil
import subprocess

import pytest

from e2elib import REPO

PREFIX = '/usr/local'
MAKE_TIMEOUT = 300

# What `make install` puts where (under DESTDIR), PREFIX /usr/local.
TREE = {
    'usr/local/bin/fcgi-wsgi': 0o755,
    'usr/local/share/man/man1/fcgi-wsgi.1': 0o644,
    'usr/local/lib/systemd/system/fcgi-wsgi@.service': 0o644,
    'etc/logrotate.d/fcgi-wsgi': 0o644,
    'usr/local/share/doc/fcgi-wsgi/examples/example.ini': 0o644,
    'usr/local/share/doc/fcgi-wsgi/examples/systemd/fcgi-wsgi.service':
        0o644,
    'usr/local/share/doc/fcgi-wsgi/examples/systemd/fcgi-wsgi.socket':
        0o644,
}


def need(*tools):
    for tool in tools:
        if shutil.which(tool) is None and not os.path.exists(
                '/usr/sbin/' + tool):
            pytest.skip('%s is not installed (make deps)' % tool)


def make(*args):
    done = subprocess.run(['make', '--no-print-directory', '-C', str(REPO)]
                          + list(args), capture_output=True, text=True,
                          timeout=MAKE_TIMEOUT, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, 'make %s: %s%s' % (
        ' '.join(args), done.stdout[-3000:], done.stderr[-3000:])
    return done.stdout + done.stderr


def run(argv, **kw):
    return subprocess.run([str(a) for a in argv], capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL,
                          **kw)


def help_options(binary):
    """Every --option the binary's --help names."""
    done = run([binary, '--help'])
    assert done.returncode == 0, done
    assert done.stdout.startswith('usage: fcgi-wsgi'), done.stdout[:200]
    return set(re.findall(r'(?<![\w-])--[a-z][a-z0-9._-]*[a-z0-9]',
                          done.stdout))


@pytest.fixture(scope='module')
def installed(session_tmp):
    need('help2man')
    root = session_tmp / 'install-root'
    make('install', 'DESTDIR=%s' % root, 'PREFIX=%s' % PREFIX)
    return root


def test_tree(installed):
    found = {str(p.relative_to(installed)): p.stat().st_mode & 0o777
             for p in installed.rglob('*') if p.is_file()}
    assert found == TREE, found
    assert (installed / 'etc/fcgi-wsgi').is_dir()


def test_installed_binary_and_man_page(installed):
    """The man page is rendered and names every option of --help."""
    need('man')
    options = help_options(installed / 'usr/local/bin/fcgi-wsgi')
    assert {'--socket', '--module', '--py-autoreload',
            '--touch-reload'} <= options, options
    done = run(['man', '-l', installed / 'usr/local/share/man/man1/'
                'fcgi-wsgi.1'],
               env=dict(os.environ, LC_ALL='C', MANWIDTH='300',
                        MANPAGER='cat', PAGER='cat'))
    assert done.returncode == 0, done
    page = done.stdout
    assert re.search(r'NAME\s+fcgi-wsgi - FastCGI server for Python WSGI',
                     page), page[:500]
    for section in ('SYNOPSIS', 'DESCRIPTION', 'SIGNALS', 'FILES'):
        assert '\n%s\n' % section in page, section
    missing = sorted(o for o in options if o not in page)
    assert missing == [], missing


def test_unit_logrotate_and_example(installed):
    need('systemd-analyze', 'logrotate')
    unit = (installed / 'usr/local/lib/systemd/system/fcgi-wsgi@.service'
            ).read_text()
    assert 'ExecStart=%s/bin/fcgi-wsgi --ini /etc/fcgi-wsgi/%%i.ini' % (
        PREFIX) in unit, unit
    assert '@BINDIR@' not in unit and '@DOCDIR@' not in unit, unit
    # systemd-analyze checks the unit; its ExecStart must exist, so it
    # points at the installed binary in DESTDIR here
    units = installed / 'verify'
    units.mkdir(exist_ok=True)
    (units / 'fcgi-wsgi@.service').write_text(unit.replace(
        PREFIX + '/bin/fcgi-wsgi',
        str(installed / 'usr/local/bin/fcgi-wsgi')))
    done = run(['systemd-analyze', 'verify', '--man=no',
                units / 'fcgi-wsgi@site.service'])
    assert done.returncode == 0, done
    assert 'fcgi-wsgi@' not in done.stderr, done.stderr

    done = run(['logrotate', '--debug', '--state', installed / 'state',
                installed / 'etc/logrotate.d/fcgi-wsgi'])
    assert done.returncode == 0, done
    assert 'rotating pattern: /var/log/fcgi-wsgi/*.log' in done.stderr, \
        done.stderr
    assert 'error' not in done.stderr.lower(), done.stderr

    ini = configparser.ConfigParser(comment_prefixes=(';', '#'),
                                    strict=False)
    ini.read(installed / 'usr/local/share/doc/fcgi-wsgi/examples/'
             'example.ini')
    options = help_options(installed / 'usr/local/bin/fcgi-wsgi')
    keys = {'--' + k for k in ini['fcgi-wsgi']}
    assert keys and keys <= options, keys - options


def test_make_deb(session_tmp):
    """make deb builds the package and runs lintian (an error fails it);
    the .deb holds what make install puts under /usr and /etc."""
    need('dpkg-buildpackage', 'dh', 'lintian', 'help2man')
    out = make('deb')
    assert '\nE: ' not in out, out[-3000:]
    debs = sorted((REPO / 'build/deb').glob('fcgi-wsgi_*_*.deb'))
    assert len(debs) == 1, debs
    print('\nmake deb, lintian warnings: %s' % (
        [l for l in out.splitlines() if l.startswith('W: ')] or 'none'))
    listing = run(['dpkg-deb', '--contents', debs[0]]).stdout
    for path in ('./usr/bin/fcgi-wsgi', './usr/share/man/man1/fcgi-wsgi.1.gz',
                 './lib/systemd/system/fcgi-wsgi@.service',
                 './etc/logrotate.d/fcgi-wsgi',
                 './usr/share/doc/fcgi-wsgi/examples/example.ini',
                 './usr/share/doc/fcgi-wsgi/copyright'):
        assert path in listing, (path, listing)
    root = session_tmp / 'deb-root'
    done = run(['dpkg-deb', '--extract', debs[0], root])
    assert done.returncode == 0, done
    assert 'ExecStart=/usr/bin/fcgi-wsgi ' in (
        root / 'lib/systemd/system/fcgi-wsgi@.service').read_text()
    assert '--module' in help_options(root / 'usr/bin/fcgi-wsgi')
    conffiles = run(['dpkg-deb', '--info', debs[0], 'conffiles']).stdout
    assert '/etc/logrotate.d/fcgi-wsgi' in conffiles, conffiles

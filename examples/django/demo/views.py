"""
Views of the fcgi-wsgi demo.  Each shows one thing a WSGI server must get
right: templates and static links, a CSRF-protected form, a file upload, a
streamed response, a file download, an exception, a redirect, and /echo/
which reports what the server put in the WSGI environ (the e2e tests read
it).
"""

import hashlib
import os
import tempfile
import time

from django.http import FileResponse, HttpResponseNotAllowed, JsonResponse
from django.http import StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

STREAM_MAX_CHUNKS = 100
STREAM_MAX_DELAY = 5.0
DOWNLOAD_MAX_MIB = 16


def home(request):
    return render(request, 'demo/home.html')


def form(request):
    """GET shows the form; POST (CSRF-checked) shows the value back."""
    value = None
    if request.method == 'POST':
        value = request.POST.get('value', '')
    return render(request, 'demo/form.html', {'value': value})


def upload(request):
    """POST multipart with a 'file' field: shows its name, size, sha256."""
    result = None
    if request.method == 'POST':
        upload = request.FILES.get('file')
        if upload is not None:
            digest = hashlib.sha256()
            size = 0
            for chunk in upload.chunks():
                digest.update(chunk)
                size += len(chunk)
            result = {'name': upload.name, 'size': size,
                      'sha256': digest.hexdigest()}
    return render(request, 'demo/upload.html', {'result': result})


def stream(request):
    """
    ?n=3&delay=0.5: n lines, produced delay seconds apart.  Each line says
    when it was produced (time.time()), so a client can check that it
    received the first line before the last one existed.
    """
    try:
        n = min(max(int(request.GET.get('n', 3)), 1), STREAM_MAX_CHUNKS)
        delay = min(max(float(request.GET.get('delay', 0.5)), 0.0),
                    STREAM_MAX_DELAY)
    except ValueError:
        n, delay = 3, 0.5

    def chunks():
        for i in range(1, n + 1):
            if i > 1:
                time.sleep(delay)
            yield 'chunk %d of %d produced_at=%.6f\n' % (i, n, time.time())

    response = StreamingHttpResponse(chunks(),
                                     content_type='text/plain; charset=utf-8')
    # nginx buffers FastCGI responses unless told otherwise, per response.
    response['X-Accel-Buffering'] = 'no'
    response['Cache-Control'] = 'no-cache'
    return response


def download_bytes(mib):
    """mib MiB of numbered lines, 16 bytes each."""
    return b''.join(b'%015d\n' % i for i in range(mib * 65536))


def download(request):
    """
    ?mib=3: a text file of mib MiB as an attachment, through FileResponse
    (wsgi.file_wrapper: fcgi-wsgi sends the file itself, with sendfile).
    The file is written once, in the temp dir.
    """
    try:
        mib = min(max(int(request.GET.get('mib', 1)), 1), DOWNLOAD_MAX_MIB)
    except ValueError:
        mib = 1
    path = os.path.join(tempfile.gettempdir(), 'fcgi-wsgi-demo-%d-%dmib.txt'
                        % (os.getuid(), mib))
    if not os.path.exists(path) or os.path.getsize(path) != mib << 20:
        part = '%s.%d' % (path, os.getpid())
        with open(part, 'wb') as f:
            f.write(download_bytes(mib))
        os.replace(part, path)
    return FileResponse(open(path, 'rb'), as_attachment=True,
                        filename='demo-%dmib.txt' % mib)


def boom(request):
    raise RuntimeError('boom')


def redirect_home(request):
    return redirect('home')


META_KEYS = ('SCRIPT_NAME', 'PATH_INFO', 'QUERY_STRING', 'REQUEST_METHOD',
             'HTTP_AUTHORIZATION', 'CONTENT_TYPE', 'CONTENT_LENGTH',
             'SERVER_NAME', 'SERVER_PORT', 'SERVER_PROTOCOL', 'HTTP_HOST',
             'REMOTE_ADDR', 'wsgi.url_scheme', 'wsgi.multithread',
             'wsgi.multiprocess', 'wsgi.run_once', 'wsgi.input_terminated')


@csrf_exempt
def echo(request, rest=''):
    """
    For tests and debugging: what the request looked like to Django.  Any
    method; a body is hashed, not stored.  Not CSRF-protected because it
    changes nothing.
    """
    if request.method not in ('GET', 'HEAD', 'POST', 'PUT'):
        return HttpResponseNotAllowed(['GET', 'HEAD', 'POST', 'PUT'])
    body = request.body
    meta = {}
    for key in META_KEYS:
        value = request.META.get(key)
        meta[key] = value if value is None or isinstance(
            value, (str, bool, int)) else repr(value)
    return JsonResponse({
        'path': request.path,
        'path_info': request.path_info,
        'full_path': request.get_full_path(),
        'rest': rest,
        'method': request.method,
        'meta': meta,
        'GET': {k: request.GET.getlist(k) for k in request.GET},
        'body_length': len(body),
        'body_sha256': hashlib.sha256(body).hexdigest(),
        'reverse_home': reverse('home'),
        'reverse_echo': reverse('echo', kwargs={'rest': 'x/'}),
        'pid': os.getpid(),
        'env': {k: v for k, v in os.environ.items()
                if k.startswith('DEMO_')},
    }, json_dumps_params={'ensure_ascii': False, 'sort_keys': True})

"""
Views of the bench: the smallest Django answer, a template page, a JSON
document, and a 64 KiB POST read whole.  The same answer every time, so
that every server's answer can be checked against fcgi-wsgi's.
"""

import datetime

from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt

PRODUCTS = [
    {'id': i, 'name': 'Product %d' % i, 'price': 9.5 + i * 1.25,
     'stock': (i * 7) % 13, 'tags': ['tag%d' % (i % 5), 'tag%d' % (i % 3)],
     'added': datetime.date(2026, 1, 1) + datetime.timedelta(days=i)}
    for i in range(1, 21)
]


def hello(request):
    return HttpResponse(b'Hello, World!\n', content_type='text/plain')


def page(request):
    """A page as a small site renders one: a base template with blocks,
    a loop with filters and tags, an {% url %}."""
    return render(request, 'djbench/page.html', {
        'title': 'Products', 'products': PRODUCTS,
        'total': sum(p['price'] for p in PRODUCTS)})


def json(request):
    return JsonResponse({
        'count': len(PRODUCTS),
        'results': [dict(p, added=p['added'].isoformat()) for p in PRODUCTS],
    })


@csrf_exempt
def upload(request):
    """POST: reads the body whole (request.body); answers its length."""
    return HttpResponse(b'%d\n' % len(request.body), content_type='text/plain')

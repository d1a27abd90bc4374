"""Public campaign pages: the campaign page and Discover. (Being built.)"""

from django.http import Http404


def discover(request):
    raise Http404


def detail(request, slug):
    raise Http404

import random

from django.db import transaction
from django.http import JsonResponse
from django.shortcuts import render

from .models import Fortune, World


def _count(request):
    try:
        return min(max(int(request.GET.get("queries", "1")), 1), 500)
    except ValueError:
        return 1


def _json(world):
    return {"id": world.id, "randomNumber": world.randomnumber}


def db(request):
    return JsonResponse(_json(World.objects.get(id=random.randint(1, 10000))))


def queries(request):
    worlds = [World.objects.get(id=random.randint(1, 10000)) for _ in range(_count(request))]
    return JsonResponse([_json(w) for w in worlds], safe=False)


def updates(request):
    worlds = [World.objects.get(id=random.randint(1, 10000)) for _ in range(_count(request))]
    with transaction.atomic():
        for world in sorted(worlds, key=lambda w: w.id):
            world.randomnumber = random.randint(1, 10000)
            world.save(update_fields=["randomnumber"])
    return JsonResponse([_json(w) for w in worlds], safe=False)


def fortunes(request):
    rows = list(Fortune.objects.all())
    rows.append(Fortune(id=0, message="Additional fortune added at request time."))
    rows.sort(key=lambda f: f.message)
    return render(request, "fortunes.html", {"fortunes": rows})

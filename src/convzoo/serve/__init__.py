"""convzoo.serve: the playground, a local web app over a small JSON API.

``convzoo serve`` (or :func:`serve`) starts it on 127.0.0.1. The page
(``static/index.html``, ``playground.js``) only draws: the frames, taps, running sums,
formulas, params, MACs, bytes and receptive fields all come from Python
(:mod:`convzoo.serve.api`, :mod:`convzoo.serve.numbers`), and so does the list of values each
setting offers (:mod:`convzoo.serve.choices`), so no convolution rule is written twice.
Static assets ship as package data; nothing is fetched from the network.
"""

from convzoo.serve.api import conv_api, kinds_api, stack_api
from convzoo.serve.app import ASSETS, make_server, serve, url_of
from convzoo.serve.choices import choices_api
from convzoo.serve.numbers import animation_numbers

__all__ = ["ASSETS", "animation_numbers", "choices_api", "conv_api", "kinds_api", "make_server",
           "serve", "stack_api", "url_of"]

"""convzoo.models: the networks that made each convolution variant famous.

Built only from ``convzoo.layers`` (plus torch.nn's norms, activations, pooling and linear
layers). ``create(name, **config)`` builds one; ``available()`` lists them.
"""

from convzoo.models import (  # noqa: F401 - importing a module registers its models
    dcgan,
    deeplab,
    espcn,
    mobilenet,
    resnet,
    shufflenet,
    small,
    unet,
    vgg,
    video,
    wavenet,
    xception,
)
from convzoo.models.registry import MODELS, ModelEntry, available, create, entry

__all__ = ["MODELS", "ModelEntry", "available", "create", "entry"]

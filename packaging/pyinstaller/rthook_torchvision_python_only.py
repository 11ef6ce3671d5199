"""PyInstaller runtime hook, used only when the bundle carries torchvision without its C
operators (see photofind.spec).

PyPI's torchvision wheels for Linux are built against PyPI's CUDA torch: their `_C` and
`image` extensions need libtorch_cuda and libcudart, which a bundle built on the CPU-only
torch does not have. torchvision then imports `_meta_registrations`, which registers
Python kernels for those missing operators and fails ("operator torchvision::nms does not
exist"). photofind, through open_clip, uses only torchvision's pure-Python parts
(transforms, ops.misc), so those two registration modules are replaced by empty ones here.
"""

import sys
import types

for _name in ("torchvision._meta_registrations", "torchvision._autograd_registrations"):
    _module = types.ModuleType(_name, "skipped: this bundle has no torchvision C operators")
    sys.modules.setdefault(_name, _module)

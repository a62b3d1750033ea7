# Startup of the docs' notebook kernels: make docs points IPYTHONDIR at docs/.ipython.
# Keras imports TensorFlow on every backend when it is installed, and TensorFlow 2.21
# writes its C++ start-up lines to the kernel's standard error, which the executed pages
# would show.
from kcnn._backend import load_tensorflow_quietly

load_tensorflow_quietly()

"""style_transfer: neural style transfer, content and style losses optimised with L-BFGS."""

# How closely the forms' first-step gradients agree (`numpy.allclose`; `atol_of_max`:
# that fraction of the largest reference magnitude is added to atol): funcgrad compare.
# The image gradient sums float32 terms over every pixel (Gram matrices): oneDNN's and XLA's
# convolutions round them differently, up to 1.8e-4 of the largest entry at 128 px (seen).
TOLERANCE = {"rtol": 1e-4, "atol": 0.0, "atol_of_max": 1e-3}

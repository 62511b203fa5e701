"""style_transfer: neural style transfer, content and style losses optimised with L-BFGS."""

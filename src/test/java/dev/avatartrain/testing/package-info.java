/** Test support shared by the suites: the PyTorch reference interpreter, the originals beside the checkout, TensorBoard's reader. */
package dev.avatartrain.testing;

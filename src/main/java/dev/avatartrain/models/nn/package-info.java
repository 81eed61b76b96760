/**
 * Shared network building blocks: SameDiff layers created under PyTorch parameter names and layouts, strict
 * name-for-name weight loading/export, and the {@link dev.avatartrain.models.nn.Network} view the trainer uses.
 */
package dev.avatartrain.models.nn;

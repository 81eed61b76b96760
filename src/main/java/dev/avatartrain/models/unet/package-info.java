/**
 * The lip-sync UNet: diffusers' {@code UNet2DConditionModel} (v0.27.2) with diffusers' parameter names, built from a
 * diffusers config JSON ({@link dev.avatartrain.models.unet.UNetConfig}) and defined once on {@link
 * dev.avatartrain.models.nn.Ops}.
 */
package dev.avatartrain.models.unet;

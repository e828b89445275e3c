/** Config pieces every architecture shares. */
import { z } from 'zod';

export const positiveInt = z.number().int().positive();
export const imageShape = z.tuple([positiveInt, positiveInt, positiveInt]).describe('[height, width, channels]');
export const nonlinearity = z.enum(['prelu', 'relu', 'tanh', 'linear']);
export const initScheme = z.enum(['he', 'lecun', 'glorot']);

/**
 * What the stages compute with, loaded when a stage runs rather than when the pipeline is
 * defined. Defining the pipeline (every `linea` command does, a no-op rerun included) then costs
 * no tensor library, model code or plotting library: about 400 ms less per command. A stage
 * imports its schemas and types statically, and calls these inside `run`.
 */

/** Stages that compute with tensors key on the backend the user forced (results differ in the last bits). */
export const BACKEND_ENV = ['LINEA_BACKEND'] as const;

/** The networks, data, training and measurements (src/models). */
export const loadModels = () => import('../../src/models/index.ts');
/** Backend choice, data loading and resumable training shared by the training stages. */
export const loadTraining = () => import('./training.ts');
/** The tensor library, for stages that compute on tensors directly. */
export const loadTf = () => import('../../src/models/tf.ts');

export type Models = Awaited<ReturnType<typeof loadModels>>;
export type Tf = Awaited<ReturnType<typeof loadTf>>;

/**
 * The default experiment. Stages are wired here: `p.add(stage, { input: upstreamNode })`.
 * The nonlinear-advantage stages (prepare-data → pretrain → sparsify → linearize → path-length
 * → baseline → report) are added by issue 5 on top of src/models/ (issue 3); until then the
 * pipeline is empty and `npm start` runs nothing.
 */
import { definePipeline } from 'linea';

export default definePipeline({
  name: 'nonlinear-advantage',
  build() {},
});

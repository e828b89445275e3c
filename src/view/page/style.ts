/** The page's style, inlined by the script: one file to serve, nothing fetched from elsewhere. */
export const STYLE = `
:root { font: 13px/1.4 system-ui, sans-serif; color: #222; background: #fafafa; }
body { margin: 0; }
header { padding: 8px 14px; background: #fff; border-bottom: 1px solid #ddd; }
h1 { font-size: 16px; margin: 0 0 6px; }
h2 { font-size: 14px; margin: 4px 0 8px; }
h3 { font-size: 12px; margin: 12px 0 4px; text-transform: uppercase; color: #666; }
form label { margin-right: 10px; }
input, select, button { font: inherit; }
.dim { color: #888; }
.error { color: #c62828; }
#whole { margin-top: 6px; }
#whole-bar { width: 260px; vertical-align: middle; }
.running { display: flex; gap: 8px; align-items: center; font-size: 12px; }
.running progress { width: 160px; }
main { display: flex; height: 58vh; border-bottom: 1px solid #ddd; }
#graph { flex: 1; overflow: auto; background: #fff; }
#panel { width: 420px; overflow: auto; padding: 8px 12px; border-left: 1px solid #ddd; background: #fff; }
.stage-box { fill: #f5f7fa; stroke: #c5cbd3; }
.stage-name { font-weight: 600; fill: #444; }
.edge { fill: none; stroke: #999; stroke-width: 1.4; }
g.instance { cursor: pointer; }
g.instance text { font-size: 11px; fill: #fff; pointer-events: none; }
g.instance[data-state="missing"] text, g.instance[data-state="queued"] text, g.instance[data-state="stale"] text { fill: #222; }
g.instance[data-state="running"] rect { stroke: #0d47a1; stroke-width: 2; }
.badge { padding: 1px 6px; border-radius: 3px; color: #fff; background: #777; }
.badge[data-state="cached"] { background: #43a047; } .badge[data-state="stale"] { background: #f9a825; color: #222; }
.badge[data-state="running"] { background: #1e88e5; } .badge[data-state="failed"] { background: #e53935; }
table { border-collapse: collapse; font-size: 12px; }
td, th { padding: 2px 6px; border-bottom: 1px solid #eee; text-align: left; vertical-align: top; }
tr.overridden td { background: #fff8e1; font-weight: 600; }
pre { background: #f4f4f4; padding: 6px; max-height: 220px; overflow: auto; font-size: 11px; }
#lower { display: flex; gap: 24px; padding: 8px 14px; flex-wrap: wrap; }
#curves { display: flex; flex-wrap: wrap; gap: 8px; }
#lower > div { flex: 1; min-width: 420px; }
.results th { cursor: pointer; background: #f0f2f5; position: sticky; top: 0; }
#table { max-height: 320px; overflow: auto; }
`;

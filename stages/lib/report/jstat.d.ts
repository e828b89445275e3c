// The one part of jstat (no types of its own) that the report uses: Student's t quantile.
declare module 'jstat' {
  const jStat: { studentt: { inv(p: number, df: number): number } };
  export default jStat;
}

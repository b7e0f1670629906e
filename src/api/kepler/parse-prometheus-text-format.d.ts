// Types for parse-prometheus-text-format 1.1 (the package ships none).
declare module 'parse-prometheus-text-format' {
  export interface ParsedSample {
    /** The sample value as written ("1.5e+06", "NaN", "+Inf"). */
    readonly value: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly timestamp_ms?: string;
  }
  export interface ParsedHistogramSample {
    readonly buckets: Readonly<Record<string, string>>;
    readonly count: string;
    readonly sum: string;
    readonly labels?: Readonly<Record<string, string>>;
  }
  export interface ParsedFamily {
    readonly name: string;
    readonly help: string;
    readonly type: 'COUNTER' | 'GAUGE' | 'UNTYPED' | 'HISTOGRAM' | 'SUMMARY';
    readonly metrics: readonly (ParsedSample | ParsedHistogramSample)[];
  }
  /** Parses Prometheus text exposition format 0.0.4; throws on malformed input. */
  function parsePrometheusTextFormat(text: string): ParsedFamily[];
  export default parsePrometheusTextFormat;
}

/** The engine version recorded in every report and fused file. */
export const ENGINE_VERSION = '0.1.0';

// Event enrichment: geolocation, user agent, IP anonymization.
export { Enricher, type EnricherOptions, type EnrichPlan, enrichPlan } from './enrich.ts';
export { bundledGeoDir, createGeoReader, type GeoLocation, type GeoReader, openGeoReader } from './geo.ts';
export { anonymizeIp, isNonPublic, parseIp } from './ip.ts';
export { parseUserAgent, type UserAgentInfo } from './ua.ts';

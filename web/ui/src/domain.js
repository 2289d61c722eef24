// The domain's enumerations as the pages show them (PRODUCT §3). The server
// is the authority: the skill list it reports replaces the default here.

export const REGIONS = ['BJ', 'TJ', 'HE'];
export const INCIDENT_TYPES = ['flood', 'earthquake', 'fire', 'public_health', 'accident', 'relocation', 'other'];
export const SEVERITIES = ['I', 'II', 'III', 'IV'];
export const CERTS = ['none', 'assistant', 'intermediate', 'senior'];
export const DEFAULT_SKILLS = [
  'crisis_intervention',
  'elderly_care',
  'child_protection',
  'disability_support',
  'resettlement',
  'community_mobilisation',
  'medical_social_work',
  'grief_support',
  'volunteer_coordination',
  'case_management',
];

// Severity I is the most severe: darkest red; IV the least: yellow.
export const SEVERITY_COLOURS = { I: '#a50026', II: '#e0452b', III: '#f08c2e', IV: '#e8c422' };

export const ACTIVE_STATES = ['offered', 'accepted', 'en_route', 'on_scene'];
export const ENGAGED_STATES = ['accepted', 'en_route', 'on_scene'];

// severity normalises 1..4 or "I".."IV" to a Roman numeral.
export function severity(v) {
  if (typeof v === 'number') return SEVERITIES[v - 1] || 'IV';
  const s = String(v || '').toUpperCase();
  return SEVERITIES.includes(s) ? s : 'IV';
}

export function isActive(a) {
  return ACTIVE_STATES.includes(a.state ?? a.status);
}

export function stateOf(a) {
  return a.state ?? a.status;
}

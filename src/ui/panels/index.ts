// The visualisation panels: pure, props-driven React components that render a Trace.

export { SlippingTimeline, type SlippingTimelineProps } from './SlippingTimeline';
export { TokenStrip, type TokenStripProps } from './TokenStrip';
export { HeadGrid, type HeadGridProps } from './HeadGrid';
export { AttentionMatrix, type AttentionMatrixProps } from './AttentionMatrix';
export { ResponsePanel, type ResponsePanelProps } from './ResponsePanel';
export { TradeOff, type TradeOffProps } from './TradeOff';
export { Panel, PanelChrome, type PanelProps, type PanelExports } from './Panel';
export { VerdictBadge, VerdictMarker } from './markers';
export type { HeadSelection, LayerSelection, QuerySelection, PanelName } from './data';

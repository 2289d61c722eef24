package dispatch

import (
	"fmt"
	"math"
	"regexp"

	"github.com/jjj-social-work/dispatch/geo"
)

// RegionDef is a region and its reference points. An incident that comes
// without a region belongs to the region of its nearest reference point: a
// Voronoi approximation of the borders that is simple, testable and good
// enough when points sit in every district; intake can always say the
// region explicitly, and that wins.
type RegionDef struct {
	Code   string      `json:"code"` // "BJ", "TJ", "HE"
	Name   string      `json:"name"`
	Points []geo.Point `json:"points"`
}

// ZoneDef is a flagged zone inside a region, such as the Xiong'an pilot: an
// incident within RadiusKm of one of its points is in the zone.
type ZoneDef struct {
	Code     string      `json:"code"`
	Name     string      `json:"name"`
	Region   string      `json:"region"`
	Pilot    bool        `json:"pilot"`
	Points   []geo.Point `json:"points"`
	RadiusKm float64     `json:"radius_km"`
}

// DefaultRegions are Beijing, Tianjin and Hebei with approximate district
// and city centres (PRODUCT §10 and the outer districts).
func DefaultRegions() []RegionDef {
	return []RegionDef{
		{Code: "BJ", Name: "北京 Beijing", Points: []geo.Point{
			{Lat: 39.904, Lng: 116.407}, {Lat: 39.912, Lng: 116.366}, {Lat: 39.910, Lng: 116.657}, // Dongcheng, Xicheng, Tongzhou
			{Lat: 39.735, Lng: 116.143}, {Lat: 39.727, Lng: 116.341}, {Lat: 40.220, Lng: 116.231}, // Fangshan, Daxing, Changping
			{Lat: 40.130, Lng: 116.654}, {Lat: 40.141, Lng: 117.121}, {Lat: 40.316, Lng: 116.632}, // Shunyi, Pinggu, Huairou
			{Lat: 40.377, Lng: 116.843}, {Lat: 40.457, Lng: 115.975}, {Lat: 39.940, Lng: 116.100}, // Miyun, Yanqing, Mentougou
		}},
		{Code: "TJ", Name: "天津 Tianjin", Points: []geo.Point{
			{Lat: 39.343, Lng: 117.362}, {Lat: 39.384, Lng: 117.044}, {Lat: 38.938, Lng: 117.357}, // centre, Wuqing, Jinnan
			{Lat: 39.003, Lng: 117.711}, {Lat: 40.045, Lng: 117.408}, {Lat: 39.717, Lng: 117.309}, // Binhai, Jizhou, Baodi
			{Lat: 38.947, Lng: 116.974}, {Lat: 39.310, Lng: 117.820}, // Jinghai, Ninghe
		}},
		{Code: "HE", Name: "河北 Hebei", Points: []geo.Point{
			{Lat: 38.043, Lng: 114.515}, {Lat: 38.883, Lng: 115.500}, {Lat: 39.486, Lng: 115.974}, // Shijiazhuang, Baoding, Zhuozhou
			{Lat: 39.538, Lng: 116.684}, {Lat: 39.050, Lng: 115.870}, {Lat: 38.930, Lng: 115.930}, // Langfang, Rongcheng, Anxin
			{Lat: 39.631, Lng: 118.180}, {Lat: 40.767, Lng: 114.886}, {Lat: 40.951, Lng: 117.963}, // Tangshan, Zhangjiakou, Chengde
			{Lat: 38.304, Lng: 116.839}, {Lat: 37.070, Lng: 114.504}, {Lat: 36.625, Lng: 114.539}, // Cangzhou, Xingtai, Handan
			{Lat: 37.739, Lng: 115.670}, {Lat: 39.935, Lng: 119.600}, {Lat: 39.100, Lng: 116.400}, // Hengshui, Qinhuangdao, Bazhou
		}},
	}
}

// DefaultZones is the Xiong'an New Area pilot zone inside Hebei.
func DefaultZones() []ZoneDef {
	return []ZoneDef{{
		Code: "xiongan", Name: "雄安新区 Xiong'an", Region: "HE", Pilot: true, RadiusKm: 15,
		Points: []geo.Point{{Lat: 39.050, Lng: 115.870}, {Lat: 38.930, Lng: 115.930}, {Lat: 38.990, Lng: 116.100}}, // Rongcheng, Anxin, Xiongxian
	}}
}

// regionCodePattern is what region codes look like.
const regionCodePattern = `^[A-Z]{2,8}$`

func (p *Policy) validateRegions() error {
	if len(p.Regions) == 0 {
		return invalid("regions", CodeRequired, "at least one region needed")
	}
	re := regexp.MustCompile(regionCodePattern)
	seen := make(map[string]bool)
	for i, r := range p.Regions {
		f := fmt.Sprintf("regions[%d]", i)
		if !re.MatchString(r.Code) {
			return invalid(f+".code", CodeInvalid, "region code %q does not match %s", r.Code, regionCodePattern)
		}
		if seen[r.Code] {
			return invalid(f+".code", CodeDuplicate, "region %q listed twice", r.Code)
		}
		seen[r.Code] = true
		if err := pointsValid(f+".points", r.Points); err != nil {
			return err
		}
	}
	zre := regexp.MustCompile(namePattern)
	for i, z := range p.Zones {
		f := fmt.Sprintf("zones[%d]", i)
		switch {
		case !zre.MatchString(z.Code):
			return invalid(f+".code", CodeInvalid, "zone code %q does not match %s", z.Code, namePattern)
		case !seen[z.Region]:
			return invalid(f+".region", CodeUnknown, "unknown region %q", z.Region)
		case !finitePositive(z.RadiusKm):
			return invalid(f+".radius_km", CodeOutOfRange, "must be positive")
		}
		if err := pointsValid(f+".points", z.Points); err != nil {
			return err
		}
	}
	if !finitePositive(p.RegionMaxKm) {
		return invalid("region_max_km", CodeOutOfRange, "must be positive")
	}
	return nil
}

// hasRegion reports whether code is a configured region.
func (p *Policy) hasRegion(code string) bool {
	for _, r := range p.Regions {
		if r.Code == code {
			return true
		}
	}
	return false
}

// Place is where a point lies: its region and, if any, its zone.
type Place struct {
	Region string `json:"region"`
	Zone   string `json:"zone,omitempty"`
	Pilot  bool   `json:"pilot,omitempty"`
}

// Locate places p: the region of the nearest reference point (ok is false
// if none is within RegionMaxKm) and the first zone whose radius covers p.
func (p *Policy) Locate(pt geo.Point) (pl Place, ok bool) {
	best := math.Inf(1)
	for _, r := range p.Regions {
		for _, rp := range r.Points {
			if d := geo.DistanceMeters(pt, rp); d < best {
				best, pl.Region = d, r.Code
			}
		}
	}
	if best > p.RegionMaxKm*1000 {
		return Place{}, false
	}
	pl.Zone, pl.Pilot = p.zoneOf(pt, pl.Region)
	return pl, true
}

// zoneOf returns the first zone of region that covers pt.
func (p *Policy) zoneOf(pt geo.Point, region string) (string, bool) {
	for _, z := range p.Zones {
		if z.Region != region {
			continue
		}
		for _, zp := range z.Points {
			if geo.DistanceMeters(pt, zp) <= z.RadiusKm*1000 {
				return z.Code, z.Pilot
			}
		}
	}
	return "", false
}
